"""INT8 fidelity on real weights (all-MiniLM-L6-v2 through the export + quantization path) and its docs."""

from __future__ import annotations

from conftest import FIXTURES

from benchmarks import export_full, int8_fidelity
from benchmarks.report import read_block, read_result
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


def test_docs_quote_the_results_files() -> None:
    """The figures in docs/QUANTIZATION.md are the rendering of the committed results, nothing typed by hand."""
    assert read_block(int8_fidelity.DOC, "int8-fidelity") == int8_fidelity.render(read_result("int8_fidelity"))
    assert read_block(export_full.DOC, "export-full") == export_full.render(read_result("export_full"))
    default = read_result("int8_fidelity")["variants"][0]
    assert default["name"] == DEFAULT_VARIANT["name"]
    assert default["min_cosine"] >= 0.99 and default["mean_top10_overlap"] >= 0.9
