"""INT8 fidelity on real weights (all-MiniLM-L6-v2 through the export + quantization path) and its docs."""

from __future__ import annotations

from conftest import FIXTURES

from medmir.model.fidelity import DEFAULT_VARIANT, measure


def test_int8_keeps_real_weight_embeddings() -> None:
    phrases = [p for p in (FIXTURES / "clinical_phrases.txt").read_text().splitlines() if p]
    assert len(phrases) >= 200
    r = measure(phrases)
    assert r["fp32_onnx_vs_torch_min_cosine"] >= 0.9999
    (v,) = r["variants"]
    assert v["name"] == DEFAULT_VARIANT["name"]
    assert v["min_cosine"] >= 0.99, v
    assert v["mean_top10_overlap"] >= 0.9, v
