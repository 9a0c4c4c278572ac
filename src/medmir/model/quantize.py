"""INT8 weight quantization of exported towers (onnx + onnxruntime only, no torch).

- MatMul weights: onnxruntime's dynamic quantization, per output channel (activations quantized at run time),
  weights stored as uint8 with a zero point per channel (U8U8). Not int8 (U8S8): onnxruntime's U8S8 kernels on x86
  CPUs without VNNI saturate 16-bit sums, so such a pack gives other embeddings on other CPUs; U8U8 integer
  products are exact on every CPU and in WASM (measured: docs/QUANTIZATION.md).
- Embedding tables (Gather on a constant matrix): our own row-wise symmetric int8, one scale per row, written
  as plain Gather/Cast/Mul so every runtime (onnxruntime-web included) runs it. onnxruntime's own Gather
  quantization uses one scale for the whole table, which costs fidelity on BERT's word embeddings.
- Conv (the ViT patch embedding, 0.6M weights) stays FP32: ConvInteger is slow and the saving is small.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from medmir.core.errors import MedmirError


def rowwise_int8_gathers(model: onnx.ModelProto, min_rows: int = 2) -> list[str]:
    """Replace Gather(W_float[rows, dim], idx) by a row-wise int8 table + per-row scales. Returns table names."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    done: list[str] = []
    new_nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or table.data_type != TensorProto.FLOAT or len(table.dims) != 2 or axis != 0:
            new_nodes.append(node)
            continue
        w = numpy_helper.to_array(table).astype(np.float32)
        if w.shape[0] < min_rows:
            new_nodes.append(node)
            continue
        scale = np.abs(w).max(axis=1, keepdims=True) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        base = table.name
        graph.initializer.remove(table)
        del inits[base]
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{base}_int8"),
                numpy_helper.from_array(scale.astype(np.float32), f"{base}_scale"),
            ]
        )
        idx, out = node.input[1], node.output[0]
        new_nodes += [
            helper.make_node("Gather", [f"{base}_int8", idx], [f"{out}_q"], name=f"{node.name}_q", axis=0),
            helper.make_node("Gather", [f"{base}_scale", idx], [f"{out}_s"], name=f"{node.name}_s", axis=0),
            helper.make_node("Cast", [f"{out}_q"], [f"{out}_f"], name=f"{node.name}_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{out}_f", f"{out}_s"], [out], name=f"{node.name}_dequant"),
        ]
        done.append(base)
    del graph.node[:]
    graph.node.extend(new_nodes)
    return done


EMBEDDING_MODES = ("rowwise", "fp32", "ort")
WEIGHT_TYPES = ("uint8", "int8")
INTEGER_MATMULS = ("MatMulInteger", "DynamicQuantizeMatMul")
# Chosen on real weights (benchmarks/int8_fidelity.py sweeps it): 0.7 gave the best worst-case cosine.
SMOOTH_ALPHA = 0.7


def quantize_int8(
    src: Path,
    dst: Path,
    *,
    per_channel: bool = True,
    reduce_range: bool = False,
    weight_type: str = "uint8",
    embeddings: str = "rowwise",
    calibration: list[dict[str, np.ndarray]] | None = None,
    smooth_alpha: float = SMOOTH_ALPHA,
) -> dict[str, Any]:
    """Write the INT8 twin of `src` to `dst`; returns what was done, for the manifest.

    With `calibration` feeds, activations are smoothed first (see `smooth_activations`). `weight_type` "int8" (U8S8)
    exists so benchmarks can show why it is not the default: its results depend on the CPU.

    `embeddings`: "rowwise" (ours, the default), "fp32" (tables left as they are) or "ort" (onnxruntime's
    per-tensor Gather quantization) -- the latter two exist so the benchmark can compare them.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if weight_type not in WEIGHT_TYPES:
        raise MedmirError(f"unknown weight type {weight_type!r}; use one of {WEIGHT_TYPES}")
    if embeddings not in EMBEDDING_MODES:
        raise MedmirError(f"unknown embedding quantization {embeddings!r}; use one of {EMBEDDING_MODES}")
    model = onnx.load(str(src))
    # stale value_info from the exporter makes the quantizer's shape inference disagree with itself
    del model.graph.value_info[:]
    tables = rowwise_int8_gathers(model) if embeddings == "rowwise" else []
    smoothed = smooth_activations(model, calibration, smooth_alpha) if calibration else 0
    op_types = ["MatMul", "Gather"] if embeddings == "ort" else ["MatMul"]
    with tempfile.TemporaryDirectory(prefix="medmir-quant-") as tmp:
        staged = Path(tmp) / "staged.onnx"
        onnx.save(model, str(staged))
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs advice meant for static quantization
        try:
            quantize_dynamic(
                staged,
                dst,
                op_types_to_quantize=op_types,
                per_channel=per_channel,
                reduce_range=reduce_range,
                weight_type=QuantType.QUInt8 if weight_type == "uint8" else QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True},
            )
        except Exception as exc:
            raise MedmirError(f"{src}: INT8 quantization failed ({exc})") from exc
        finally:
            logging.getLogger().setLevel(quiet)
    return {
        "matmul": {
            "method": "onnxruntime.quantize_dynamic",
            "weights": f"{weight_type}, " + ("per output channel" if per_channel else "per tensor"),
            "activations": "uint8, dynamic (computed at run time)",
            "kernels": "U8U8: exact integer products on every CPU" if weight_type == "uint8" else "U8S8",
            "reduce_range": reduce_range,
        },
        "embedding_tables": {
            "rowwise": {"method": "row-wise symmetric int8 (one float scale per row)", "tables": tables},
            "fp32": {"method": "kept FP32"},
            "ort": {"method": "onnxruntime per-tensor Gather quantization"},
        }[embeddings],
        "smoothing": (
            {
                "method": "SmoothQuant (exact rescaling of MatMul inputs and weights)",
                "alpha": smooth_alpha,
                "inputs_smoothed": smoothed,
                "calibration_inputs": len(calibration or []),
            }
            if smoothed
            else None
        ),
        "kept_fp32": ["Conv (patch embedding)", "LayerNorm", "biases"],
    }


def integer_weight_types(model_path: Path) -> set[str]:
    """Element types ("uint8" / "int8") of the constant weights of a model's integer MatMuls."""
    model = onnx.load(str(model_path), load_external_data=False)
    inits = {t.name: t.data_type for t in model.graph.initializer}
    names = {TensorProto.UINT8: "uint8", TensorProto.INT8: "int8"}
    return {
        names.get(inits[n.input[1]], "other")
        for n in model.graph.node
        if n.op_type in INTEGER_MATMULS and len(n.input) > 1 and n.input[1] in inits
    }


def _activation_absmax(model: onnx.ModelProto, names: list[str], feeds: list[dict[str, np.ndarray]]) -> dict:
    """Per-channel max |x| of the named intermediate values over calibration inputs (FP32 run)."""
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend([onnx.ValueInfoProto(name=n) for n in names if n not in known])
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    out_names = [o.name for o in sess.get_outputs()]
    stats: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, val in zip(out_names, sess.run(out_names, feed), strict=True):
            if name in names:
                m = np.abs(val.reshape(-1, val.shape[-1])).max(axis=0)
                stats[name] = np.maximum(stats[name], m) if name in stats else m
    return stats


def smooth_activations(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], alpha: float = 0.5) -> int:
    """SmoothQuant: move activation outliers into the weights, exactly, before dynamic quantization.

    For MatMul(X, W) with constant W, X' = X / s and W' = diag(s) W leave X W unchanged in FP32, while X'
    has a flatter per-channel range, so its per-tensor uint8 quantization (onnxruntime's dynamic mode) loses
    less. s_j = max|X_j|^alpha / max|W_j|^(1-alpha), from an FP32 calibration run. MatMuls that share an
    input (Q, K, V) share one s and one inserted Mul. Returns the number of inputs smoothed.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        w = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if w is not None and len(w.dims) == 2 and w.data_type == TensorProto.FLOAT and node.input[0] not in inits:
            groups.setdefault(node.input[0], []).append(node)
    if not groups:
        return 0
    stats = _activation_absmax(model, list(groups), feeds)
    for act, nodes in groups.items():
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in nodes]
        wmax = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        amax = stats[act]
        s = np.power(np.maximum(amax, 1e-5), alpha) / np.power(np.maximum(wmax, 1e-5), 1 - alpha)
        s = np.clip(s, 1e-2, 1e2).astype(np.float32)
        inv_name, out_name = f"{act}_smooth_inv", f"{act}_smoothed"
        graph.initializer.append(numpy_helper.from_array((1.0 / s).astype(np.float32), inv_name))
        graph.node.append(helper.make_node("Mul", [act, inv_name], [out_name], name=f"{act}_smooth"))
        for n, w in zip(nodes, weights, strict=True):
            t = inits[n.input[1]]
            t.CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), t.name))
            n.input[0] = out_name
    _topological_sort(graph)
    return len(groups)


def _topological_sort(graph: onnx.GraphProto) -> None:
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        rest = []
        for n in pending:
            if all(i in available for i in n.input):
                ordered.append(n)
                available.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            raise MedmirError("graph has a cycle or an undefined input after smoothing")
        pending = rest
    del graph.node[:]
    graph.node.extend(ordered)
