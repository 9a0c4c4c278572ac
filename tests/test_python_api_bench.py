"""benchmarks/python_api.py: the quick mode (3,000 rows, the tiny pack, 20 queries) runs end to end into a temporary
folder, never benchmarks/results or docs; and the committed block renders the committed results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from benchmarks import python_api
from benchmarks.report import RESULTS, read_block


def test_quick_run_measures_both_runtimes(tmp_path: Path, tiny_pack: Path) -> None:
    out, doc = tmp_path / "python_api.json", tmp_path / "doc.md"
    results_before = {p.name: p.stat().st_mtime for p in RESULTS.glob("*.json")}
    cmd = [sys.executable, "benchmarks/python_api.py", "--quick", "--out", str(out), "--doc", str(doc),
           "--work", str(tmp_path / "work"), "--pack", str(tiny_pack)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert {p.name: p.stat().st_mtime for p in RESULTS.glob("*.json")} == results_before

    r = json.loads(out.read_text())
    assert r["quick"] is True and r["measured_at"] and list(r["sizes"]) == ["v2-3000"]
    size = r["sizes"]["v2-3000"]
    assert "before" not in size
    for rt in python_api.RUNTIMES:
        m = size[rt]
        assert m["batch_queries"] == 20 and m["batch_equals_one_query"] is True
        assert m["cli_median_s"] > 0 and m["batch_ms"] > 0 and len(m["cli_s"]) == python_api.REPEATS
    assert read_block(doc, python_api.BLOCK) == python_api.render(r).strip()


def test_the_doc_quotes_the_committed_results() -> None:
    r = json.loads((RESULTS / "python_api.json").read_text(encoding="utf-8"))
    assert r["quick"] is False and set(r["sizes"]) == {"v2-112120", "v2-500000"}
    assert all("before" in s for s in r["sizes"].values())
    assert read_block(python_api.DOC, python_api.BLOCK) == python_api.render(r).strip()
