"""benchmarks/recall.py: the quick mode runs end to end into a temporary folder, and the committed block renders
the committed results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from benchmarks import recall
from benchmarks.report import RESULTS, read_block


def test_quick_run_writes_the_results_and_the_block(tmp_path: Path) -> None:
    out, doc = tmp_path / "recall.json", tmp_path / "doc.md"
    doc.write_text("# doc\n\n<!-- BEGIN generated:recall -->\n<!-- END generated:recall -->\n\nafter\n")
    cmd = [sys.executable, "benchmarks/recall.py", "--quick", "--out", str(out), "--doc", str(doc)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["quick"] is True and r["measured_at"] and r["machine"]["cores"]
    assert set(r["forms"]) == {"int8-centred", "int8-uncentred", "sign", "two-stage-100", "two-stage-1000"}
    assert r["bytes_per_row"] == {"float32": 2048, "int8-centred": 516, "int8-uncentred": 516, "sign": 64,
                                  "two-stage-100": 580, "two-stage-1000": 580}  # fmt: skip
    assert set(r["sets"]) == {"minilm-9k", "random-10k"}
    for s in r["sets"].values():
        assert s["dim"] == 512 and s["rows"] > 0
        for qs in s["queries"].values():
            assert qs["count"] > 0 and set(qs["forms"]) == set(r["forms"])
            for form in qs["forms"].values():
                for k in (1, 10, 100):
                    cell = form[f"recall_at_{k}"]
                    assert all(0.0 <= v <= 1.0 for v in cell.values())
                c = form["recall_at_10"]
                assert c["min"] <= c["p5"] and c["min"] <= c["mean"]
    # the batch pass ranks as the per-query functions (compact.py's) do; a float rounding may flip a near tie
    for s in r["sets"].values():
        for qs in s["queries"].values():
            same = qs["checks"]["identical_top10_share"]
            assert {"exact", "int8-centred", "sign"} <= set(same) and min(same.values()) >= 0.8
            err = qs["int8_score_rms_error"]
            assert 0 < err["int8-centred"] < 0.01 and 0 < err["int8-uncentred"] < 0.01
    structured = r["sets"]["minilm-9k"]
    assert structured["mean_row_norm"] > r["sets"]["random-10k"]["mean_row_norm"] + 0.2  # a cone, unlike random
    for qs in structured["queries"].values():
        # centring shrinks the residuals of rows in a cone, so the int8 scores err less
        assert qs["int8_score_rms_error"]["int8-centred"] < qs["int8_score_rms_error"]["int8-uncentred"]
        f = qs["forms"]
        # 8 bits a dimension keep more of the top-10 than 1 bit: a real property of structured rows
        assert f["int8-centred"]["recall_at_10"]["mean"] > f["sign"]["recall_at_10"]["mean"] + 0.1
        assert f["int8-centred"]["recall_at_10"]["mean"] >= 0.95
        # re-ranking 1,000 candidates recovers what the sign codes lost
        assert f["two-stage-1000"]["recall_at_10"]["mean"] >= f["sign"]["recall_at_10"]["mean"]
    text = doc.read_text()
    assert text.startswith("# doc\n") and text.endswith("\nafter\n")
    assert read_block(doc, "recall") == recall.render(r).strip()
    assert "MiniLM clinical phrases (9,000" in text


def test_running_top_matches_a_full_ranking_with_its_tie_break() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, size=(7, 300)).astype(np.float32)  # many ties
    top = recall.RunningTop(7, 25)
    for start in range(0, 300, 64):
        top.add(scores[:, start : start + 64].copy(), start)
    want = np.stack([np.lexsort((np.arange(300), -row))[:25] for row in scores])
    assert np.array_equal(top.ids, want)


@pytest.mark.skipif(not (RESULTS / "recall.json").exists(), reason="no committed recall results")
def test_committed_block_renders_the_committed_results() -> None:
    r = json.loads((RESULTS / "recall.json").read_text())
    assert read_block(recall.DOC, "recall") == recall.render(r).strip()
