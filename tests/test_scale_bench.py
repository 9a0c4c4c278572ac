"""benchmarks/scale.py: the quick mode (3,000 rows, both bundle formats, the tiny pack, headless Chromium) runs end
to end into a temporary folder, never benchmarks/results or docs; and the committed block renders the committed
results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from benchmarks import scale
from benchmarks.report import RESULTS, read_block

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed (make chromium)")
@pytest.mark.skipif(not (ROOT / "web" / "dist" / "index.html").exists(), reason="the web app is not built (make web)")
def test_quick_run_measures_both_formats_side_by_side(tmp_path: Path, tiny_pack: Path) -> None:
    out, doc = tmp_path / "scale.json", tmp_path / "doc.md"
    doc.write_text("# doc\n\n<!-- BEGIN generated:scale -->\n<!-- END generated:scale -->\n\nafter\n")
    results_before = {p.name: p.stat().st_mtime for p in RESULTS.glob("*.json")}
    cmd = [sys.executable, "benchmarks/scale.py", "--quick", "--out", str(out), "--doc", str(doc),
           "--work", str(tmp_path / "work"), "--pack", str(tiny_pack)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert {p.name: p.stat().st_mtime for p in RESULTS.glob("*.json")} == results_before

    r = json.loads(out.read_text())
    assert r["quick"] is True and r["measured_at"] and r["machine"]["cores"]
    assert list(r["sites"]) == ["v1-3000", "v2-3000"]
    v1, v2 = r["sites"]["v1-3000"], r["sites"]["v2-3000"]
    assert (v1["format_version"], v2["format_version"]) == (1, 2)
    for s in (v1, v2):
        assert "error" not in s, s.get("error")
        assert s["rows"] == 3000 and set(s["visits"]) == {"first", "repeat"}
        first, repeat = s["summary"]["first"], s["summary"]["repeat"]
        for v in (first, repeat):
            assert v["first_live_result_path"] == "live" and v["not_live"] == []
            assert 0 < v["ready_s"] <= v["first_live_result_s"]
            assert 0 <= v["mb_until_ready"] <= v["mb_until_first_result"] <= v["mb_total"]
            assert v["rank_ms"] is not None and v["rank_ms"] >= 0
            # every file fetched whole at most once in a visit
            assert v["refetched_files"] == 0
            assert v["renderer_pss_mb"] > 0
        # the repeat visit reads the model and the rows from Cache Storage: a small share of the first visit
        assert repeat["mb_total"] < 0.2 * first["mb_total"]
        for v in s["visits"].values():
            assert v["fetches"]["errors"] == []
            assert all(q["path"] == "live" for q in [v["first"], *v["after_ready"], *v["ranked"]])
        rec = s["recall"]
        assert rec["page"]["queries"] >= 1 and 0.0 <= rec["page"]["min"] <= rec["page"]["mean"] <= 1.0
        assert s["site"]["files"] > 0 and s["site"]["largest_mb"] > 0
    assert v1["summary"]["first"]["kernel"] == "wasm-simd"
    assert v2["summary"]["first"]["kernel"] == "wasm-simd-int8"
    # version 2 downloads fewer bundle bytes than version 1 before the page is ready, at the same rows (the app's
    # own files are the same in both; the service worker fetches them while the page loads, in either order)
    until = {n: s["summary"]["first"]["mb_until_ready_by_kind"] for n, s in r["sites"].items()}
    assert 0 < until["v2-3000"]["data"] < until["v1-3000"]["data"]
    assert until["v2-3000"]["model"] == until["v1-3000"]["model"] > 0
    # version 1 is a file a thumbnail; version 2 packs them
    assert v2["site"]["files"] < v1["site"]["files"] - 2900
    # the page ranks float32 rows (v1) exactly; int8 (v2) as medmir's Python ranking of the same bundle does
    assert v1["recall"]["page"]["mean"] == 1.0
    assert v2["recall"]["page_equals_bundle_top10_share"] == 1.0
    assert set(r["targets"]) == {"v1-3000", "v2-3000"}

    text = doc.read_text()
    assert text.startswith("# doc\n") and text.endswith("\nafter\n")
    assert read_block(doc, "scale") == scale.render(r).strip()
    assert "| figure | v1 at 3,000 | v2 at 3,000 | target |" in text


@pytest.mark.skipif(not (RESULTS / "scale.json").exists(), reason="no committed scale results")
def test_committed_block_renders_the_committed_results() -> None:
    r = json.loads((RESULTS / "scale.json").read_text())
    assert read_block(scale.DOC, "scale") == scale.render(r).strip()
