"""The INT8 pieces on small hand-built graphs: row-wise embedding tables and exact activation smoothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from medmir.model.quantize import quantize_int8, rowwise_int8_gathers, smooth_activations


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def _embedding_graph(table: np.ndarray) -> onnx.ModelProto:
    g = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["out"], name="g")],
        "emb",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", table.shape[1]])],
        [numpy_helper.from_array(table, "table")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_rowwise_tables_keep_each_row_within_half_a_step() -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((50, 16)).astype(np.float32)
    table[7] *= 100  # an outlier row must not cost the other rows their precision
    table[9] = 0  # an all-zero row stays zero
    model = _embedding_graph(table)
    ids = np.arange(50, dtype=np.int64)
    assert rowwise_int8_gathers(model) == ["table"]
    got = _run(model, {"ids": ids})
    step = np.abs(table).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(got - table) <= step / 2 + 1e-6)
    assert np.all(got[9] == 0)
    int8 = [t for t in model.graph.initializer if t.data_type == TensorProto.INT8]
    assert len(int8) == 1 and tuple(int8[0].dims) == (50, 16)


def _mlp_graph(w1: np.ndarray, w2: np.ndarray) -> onnx.ModelProto:
    g = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="m1"),
            helper.make_node("Relu", ["h"], ["r"], name="relu"),
            helper.make_node("MatMul", ["r", "w2"], ["y"], name="m2"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", w1.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", w2.shape[1]])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_smoothing_is_exact_in_fp32_and_helps_int8(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((64, 128)).astype(np.float32) / 8
    w2 = rng.standard_normal((128, 32)).astype(np.float32) / 8
    x = rng.standard_normal((200, 64)).astype(np.float32)
    x[:, 3] *= 60  # an outlier channel, as BERT's hidden states have
    plain = _mlp_graph(w1, w2)
    ref = _run(plain, {"x": x})

    smoothed = _mlp_graph(w1, w2)
    assert smooth_activations(smoothed, [{"x": x[:50]}], alpha=0.7) == 2
    assert np.allclose(_run(smoothed, {"x": x}), ref, rtol=1e-4, atol=1e-4)

    def int8_error(model: onnx.ModelProto, calib: list | None) -> float:
        src, dst = tmp_path / "src.onnx", tmp_path / "dst.onnx"
        onnx.save(model, str(src))
        quantize_int8(src, dst, calibration=calib)
        got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        return float(np.abs(got - ref).mean())

    plain_err = int8_error(_mlp_graph(w1, w2), None)
    smooth_err = int8_error(_mlp_graph(w1, w2), [{"x": x[:50]}])
    assert smooth_err < plain_err


MATMUL_INTEGER = """
import sys, numpy as np, onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
rng = np.random.default_rng(1)
a = rng.integers(200, 256, size=(64, 768)).astype(np.uint8)  # large activations: where 16-bit pair sums overflow
b = (rng.integers(200, 256, size=(768, 256)) if sys.argv[1] == "uint8" else rng.integers(100, 128, size=(768, 256)))
b = b.astype(sys.argv[1])
g = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "g",
    [helper.make_tensor_value_info("A", TensorProto.UINT8, [64, 768])],
    [helper.make_tensor_value_info("Y", TensorProto.INT32, [64, 256])], [numpy_helper.from_array(b, "B")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
y = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"A": a})[0]
print("exact" if np.array_equal(y, a.astype(np.int64) @ b.astype(np.int64)) else "wrong")
"""


def _matmul_integer(weights: str, emulate: bool) -> str:
    import shutil
    import subprocess
    import sys

    qemu = shutil.which("qemu-x86_64")
    if emulate and qemu is None:
        raise AssertionError("qemu-x86_64 missing: `make test` installs Debian's qemu-user")
    cmd = [sys.executable, "-c", MATMUL_INTEGER, weights]
    out = subprocess.run(([qemu, "-cpu", "Haswell"] if emulate else []) + cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_uint8_weights_give_exact_integer_products_on_every_cpu() -> None:
    """Why packs store uint8 weights: U8U8 is exact everywhere; U8S8 saturates on AVX2 CPUs without VNNI."""
    assert _matmul_integer("uint8", emulate=False) == "exact"
    assert _matmul_integer("uint8", emulate=True) == "exact"
    assert _matmul_integer("int8", emulate=True) == "wrong"  # the old format on the emulated AVX2 CPU
