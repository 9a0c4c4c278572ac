"""INT8 fidelity on real weights (all-MiniLM-L6-v2 through medmir's export path), with the variants tried.

Run: make fidelity   (writes benchmarks/results/int8_fidelity.json and the table in docs/QUANTIZATION.md)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT, measure_and_render

PHRASES = ROOT / "tests" / "fixtures" / "clinical_phrases.txt"
DOC = ROOT / "docs" / "QUANTIZATION.md"

VARIANTS = [
    {"name": "medmir default", "per_channel": True, "embeddings": "rowwise", "smooth_alpha": 0.7},
    {"name": "no smoothing", "per_channel": True, "embeddings": "rowwise", "smooth_alpha": None},
    {"name": "smoothing alpha 0.5", "per_channel": True, "embeddings": "rowwise", "smooth_alpha": 0.5},
    {"name": "smoothing alpha 0.85", "per_channel": True, "embeddings": "rowwise", "smooth_alpha": 0.85},
    {"name": "per-tensor weights", "per_channel": False, "embeddings": "rowwise", "smooth_alpha": 0.7},
    {"name": "onnxruntime Gather quantization", "per_channel": True, "embeddings": "ort", "smooth_alpha": 0.7},
    {"name": "FP32 embedding table", "per_channel": True, "embeddings": "fp32", "smooth_alpha": 0.7},
    # the old default: its figures depend on the CPU that measures them (benchmarks/cpu_agreement.py)
    {
        "name": "int8 weights (U8S8, CPU-dependent)",
        "per_channel": True,
        "embeddings": "rowwise",
        "smooth_alpha": 0.7,
        "weight_type": "int8",
    },
]


def render(r: dict) -> str:
    lines = [
        f"Measured {r['measured_at']} on {r['machine']['cpu']} ({r['machine']['cores']} cores"
        f"{', ' + r['machine']['cpu_flags'] if r['machine'].get('cpu_flags') else ''}): "
        f"{r['phrases']} clinical phrases, {r['model']}. FP32 ONNX vs PyTorch min cosine "
        f"{r['fp32_onnx_vs_torch_min_cosine']}; FP32 text model {r['fp32_bytes'] / 1e6:.1f} MB.",
        "",
        "| variant | min cosine | mean cosine | mean top-10 overlap | min top-10 overlap | INT8 size (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for v in r["variants"]:
        lines.append(
            f"| {v['name']} | {v['min_cosine']:.4f} | {v['mean_cosine']:.4f} | {v['mean_top10_overlap']:.3f} "
            f"| {v['min_top10_overlap']:.1f} | {v['bytes'] / 1e6:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from medmir.model.fidelity import measure

    def run() -> dict:
        phrases = [p for p in PHRASES.read_text(encoding="utf-8").splitlines() if p]
        return measure(phrases, variants=VARIANTS)

    measure_and_render("int8_fidelity", DOC, "int8-fidelity", run, render)


if __name__ == "__main__":
    main()
