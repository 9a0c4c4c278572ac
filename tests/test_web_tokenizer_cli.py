"""The browser tokenizer (web/src/worker/model/tokenizer.ts, through web/scripts/tokenize.mjs) against
`medmir tokenize`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import BIOMEDCLIP, FIXTURES, ROOT

NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(not (ROOT / "web" / "node_modules").is_dir(), reason="web/node_modules absent (npm ci in web/)"),
    pytest.mark.skipif(NODE is None, reason="node is not on PATH"),
]
VOCAB_ARG = "../shared/models/biomedclip/vocab.txt"  # relative to the repository root, where both commands run


def _texts(n: int) -> list[tuple[str, list[int]]]:
    cases = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="utf-8"))["cases"]
    usable = [(c["text"], c["ids"]) for c in cases if "\n" not in c["text"] and "\r" not in c["text"]]
    usable = [(t, ids) for t, ids in usable if not any(0xD800 <= ord(ch) <= 0xDFFF for ch in t)]
    return [usable[i * len(usable) // n] for i in range(n)]  # spread over every category, not just the first rows


def _run(cmd: list[str], data: bytes) -> str:
    env = {k: v for k, v in os.environ.items() if k != "INIT_CWD"}  # the node script resolves paths against INIT_CWD
    proc = subprocess.run(cmd, input=data, cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{cmd[:3]} failed: {proc.stderr.decode(errors='replace')}"
    return proc.stdout.decode("utf-8")


def test_node_tokenize_matches_medmir_tokenize() -> None:
    assert (BIOMEDCLIP / "vocab.txt").is_file()
    rows = _texts(100)
    assert len(rows) == 100
    data = "".join(t + "\n" for t, _ in rows).encode("utf-8")
    node_out = _run([str(NODE), "web/scripts/tokenize.mjs", "--vocab", VOCAB_ARG], data)
    py_out = _run([sys.executable, "-m", "medmir.cli", "tokenize", "--vocab", VOCAB_ARG], data)
    node_lines, py_lines = node_out.splitlines(), py_out.splitlines()
    assert len(py_lines) == 100
    bad = [(t, n, p) for (t, _), n, p in zip(rows, node_lines, py_lines, strict=True) if n != p]
    assert not bad, f"{len(bad)} lines differ, first: {bad[:3]}"
    assert node_out == py_out
    assert [json.loads(line) for line in py_lines] == [ids for _, ids in rows]
