"""Every generated block in the docs is the rendering of a committed results file: no figure typed by hand."""

from __future__ import annotations

import pytest

from benchmarks import cpu_agreement, export_full, index_cpu, int8_fidelity
from benchmarks.report import read_block, read_result
from medmir.model.fidelity import DEFAULT_VARIANT


@pytest.mark.parametrize(
    ("module", "block", "result"),
    [
        (int8_fidelity, "int8-fidelity", "int8_fidelity"),
        (export_full, "export-full", "export_full"),
        (index_cpu, "index-cpu", "index_cpu"),
        (cpu_agreement, "cpu-agreement", "cpu_agreement"),
    ],
)
def test_generated_blocks_match_results(module, block: str, result: str) -> None:
    assert read_block(module.DOC, block) == module.render(read_result(result))


def test_committed_fidelity_meets_the_targets() -> None:
    default = read_result("int8_fidelity")["variants"][0]
    assert default["name"] == DEFAULT_VARIANT["name"]
    assert default["min_cosine"] >= 0.99 and default["mean_top10_overlap"] >= 0.9


def test_performance_doc_and_readme_quote_the_latest_benchmark() -> None:
    from benchmarks import performance_doc

    name, r = performance_doc.latest()
    assert read_block(performance_doc.DOC, "bench") == performance_doc.render_doc(name, r).strip()
    assert read_block(performance_doc.README, "headline") == performance_doc.render_headline(name, r).strip()


def test_committed_cpu_agreement_shows_the_fix() -> None:
    """The chosen format is exact across CPUs for text and keeps FP32 fidelity; the old one was not."""
    rows = read_result("cpu_agreement")["rows"]
    ours = [r for r in rows if r["variant"].startswith("uint8")]
    old = [r for r in rows if r["variant"].startswith("int8 weights")]
    assert ours and old
    assert all(r["native_vs_avx2"] >= 0.9999 for r in ours if "text" in r["model"])
    assert all(r["fp32_vs_avx2"] >= 0.99 and r["fp32_vs_wasm"] >= 0.99 for r in ours)
    assert min(r["native_vs_avx2"] for r in old) < 0.999
