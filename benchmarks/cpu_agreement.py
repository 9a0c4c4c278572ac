"""INT8 across CPUs and runtimes: the quantization formats tried, each run natively on this CPU, natively on an
emulated AVX2-only CPU without VNNI (qemu-x86_64 -cpu Haswell) and in onnxruntime-web's WASM (the browser's kernels,
in Node), with fidelity to FP32 and WASM latency measured side by side in one run.

Run: make cpu-agreement   (writes benchmarks/results/cpu_agreement.json and the table in docs/QUANTIZATION.md)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT, measure_and_render

DOC = ROOT / "docs" / "QUANTIZATION.md"
NIH = ROOT.parent / "shared" / "data" / "nih-sample" / "images"
PHRASES = ROOT / "tests" / "fixtures" / "clinical_phrases.txt"
VARIANTS = {
    "uint8 weights (U8U8): medmir": {"weight_type": "uint8"},
    "int8 weights (U8S8): before": {"weight_type": "int8"},
    "int8 + reduce_range": {"weight_type": "int8", "reduce_range": True},
}
RUNNER = """
import json, sys, numpy as np, onnxruntime as ort
model, kind, inp, out = sys.argv[1:5]
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.log_severity_level = 3
s = ort.InferenceSession(model, o, providers=["CPUExecutionProvider"])
if kind == "text":
    r = [s.run(None, {"input_ids": np.array([i], dtype=np.int64)})[0][0] for i in json.load(open(inp))]
else:
    r = [s.run(None, {"pixel_values": p[None]})[0][0] for p in np.load(inp)]
np.save(out, np.array(r, dtype=np.float32))
"""


def _native(model: Path, kind: str, inp: Path, tmp: Path, emulate: bool) -> np.ndarray:
    out = tmp / f"out-{time.monotonic_ns()}.npy"
    cmd = [sys.executable, "-c", RUNNER, str(model), kind, str(inp), str(out)]
    if emulate:
        cmd = [shutil.which("qemu-x86_64") or "qemu-x86_64", "-cpu", "Haswell", *cmd]
    subprocess.run(cmd, check=True, capture_output=True)
    return np.load(out)


def _web(model: Path, kind: str, ids: list[list[int]], pixels: np.ndarray, dim: int) -> tuple[np.ndarray, float]:
    from medmir.model.webruntime import WebEncoder

    enc = WebEncoder(model, dim, pixels.shape[-1] if kind == "vision" else 0)
    try:
        emb = enc.encode(ids) if kind == "text" else enc.encode_pixels(pixels)
        if kind != "text":
            return emb, float("nan")
        short = [ids[0][:6]]
        for _ in range(3):
            enc.encode(short)
        times = []
        for _ in range(30):
            t = time.perf_counter()
            enc.encode(short)
            times.append((time.perf_counter() - t) * 1000)
        return emb, float(np.median(times))
    finally:
        enc.close()


def _min_cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return round(float(np.sum(a * b, axis=1).min()), 6)


def _models(tmp: Path) -> list[dict]:
    """FP32 models to quantize: the full-size random-weight BiomedCLIP towers and a real-weight BERT (MiniLM)."""
    from medmir.imaging.decode import load_image, preprocess_batch
    from medmir.model.checkpoint import init_random
    from medmir.model.export import export_pack, export_text_onnx, text_calibration
    from medmir.model.fidelity import build_minilm_clip, minilm_dir
    from medmir.model.pack import ModelPack
    from medmir.model.tokenizer import TokenizerSpec, WordPieceTokenizer, load_vocab

    init_random(ROOT.parent / "shared" / "models" / "biomedclip", tmp / "ckpt", size="full", seed=0)
    export_pack(str(tmp / "ckpt"), tmp / "pack", log=lambda s: None)
    pack = ModelPack.open(tmp / "pack", text_runtime="native")
    phrases = [p for p in PHRASES.read_text(encoding="utf-8").splitlines() if p]
    images = sorted(NIH.glob("*.png"))[:3]
    pixels = preprocess_batch([load_image(p) for p in images], pack.preprocess).astype(np.float32)
    minilm_tok = WordPieceTokenizer(load_vocab(minilm_dir() / "vocab.txt"), TokenizerSpec())
    export_text_onnx(build_minilm_clip(), tmp / "minilm.onnx", vocab_rows=len(minilm_tok.vocab), pad_id=0)
    return [
        {"name": "BiomedCLIP text, random weights, full size", "kind": "text", "fp32": tmp / "pack" / "text.onnx",
         "ids": [pack.tokenizer.encode(p) for p in phrases[:8]], "calibration": text_calibration(pack.tokenizer)},
        {"name": "BiomedCLIP vision, random weights, full size", "kind": "vision", "fp32": tmp / "pack" / "vision.onnx",
         "pixels": pixels, "calibration": None},
        {"name": "all-MiniLM-L6-v2 text, real weights", "kind": "text", "fp32": tmp / "minilm.onnx",
         "ids": [minilm_tok.encode(p) for p in phrases[:40]], "calibration": text_calibration(minilm_tok)},
    ]  # fmt: skip


def measure() -> dict:
    from medmir.model.quantize import quantize_int8

    rows = []
    with tempfile.TemporaryDirectory(prefix="medmir-cpu-") as t:
        tmp = Path(t)
        for m in _models(tmp):
            kind, ids, pixels = m["kind"], m.get("ids", []), m.get("pixels", np.zeros((0, 3, 1, 1), np.float32))
            inp = tmp / ("in.json" if kind == "text" else "in.npy")
            if kind == "text":
                inp.write_text(json.dumps(ids))
            else:
                np.save(inp, pixels)
            fp32 = _native(m["fp32"], kind, inp, tmp, emulate=False)
            for name, opts in VARIANTS.items():
                q = tmp / f"q-{len(rows)}.onnx"
                quantize_int8(m["fp32"], q, calibration=m["calibration"], **opts)
                native = _native(q, kind, inp, tmp, emulate=False)
                avx2 = _native(q, kind, inp, tmp, emulate=True)
                web, web_ms = _web(q, kind, ids, pixels, fp32.shape[1])
                rows.append(
                    {
                        "model": m["name"],
                        "variant": name,
                        "inputs": len(native),
                        "mb": round(q.stat().st_size / 1e6, 1),
                        "native_vs_avx2": _min_cos(native, avx2),
                        "native_vs_wasm": _min_cos(native, web),
                        "avx2_vs_wasm": _min_cos(avx2, web),
                        "fp32_vs_native": _min_cos(fp32, native),
                        "fp32_vs_avx2": _min_cos(fp32, avx2),
                        "fp32_vs_wasm": _min_cos(fp32, web),
                        "wasm_short_query_ms": None if np.isnan(web_ms) else round(web_ms, 1),
                    }
                )
                print(rows[-1], flush=True)
    return {"rows": rows}


def render(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"Measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores, {m['cpu_flags']}); the emulated CPU is "
        "`qemu-x86_64 -cpu Haswell` (AVX2, no AVX-512, no VNNI); WASM is onnxruntime-web in Node, 1 thread, the "
        "site's session options. Min cosine over the inputs; WASM ms: median of a 6-token query.",
        "",
        "| model | weights | native vs AVX2 | native vs WASM | AVX2 vs WASM | FP32 vs native | FP32 vs AVX2 "
        "| FP32 vs WASM | MB | WASM ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["rows"]:
        ms = "" if x["wasm_short_query_ms"] is None else f"{x['wasm_short_query_ms']:.1f}"
        lines.append(
            f"| {x['model']} | {x['variant']} | {x['native_vs_avx2']:.4f} | {x['native_vs_wasm']:.4f} "
            f"| {x['avx2_vs_wasm']:.4f} | {x['fp32_vs_native']:.4f} | {x['fp32_vs_avx2']:.4f} "
            f"| {x['fp32_vs_wasm']:.4f} | {x['mb']} | {ms} |"
        )
    return "\n".join(lines)


def main() -> None:
    measure_and_render("cpu_agreement", DOC, "cpu-agreement", measure, render)


if __name__ == "__main__":
    main()
