"""benchmarks/gpu_index.py in its CPU smoke mode: runs end to end and writes every figure the GPU run reports."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import NIH_SAMPLE, ROOT

from benchmarks.gpu_index import png_with_text
from medmir.imaging.decode import load_image

FIGURES = (
    "gpu_only",
    "decode_only_exact",
    "decode_only_fast",
    "end_to_end_exact",
    "end_to_end_fast",
    "end_to_end_exact_thumbnails",
    "end_to_end_ray",
)


def test_synthesised_copies_decode_to_the_same_pixels(tmp_path: Path) -> None:
    src = sorted((NIH_SAMPLE / "images").iterdir())[0]
    dst = tmp_path / "copy.png"
    dst.write_bytes(png_with_text(src.read_bytes(), "7"))
    assert hashlib.sha256(dst.read_bytes()).digest() != hashlib.sha256(src.read_bytes()).digest()
    assert np.array_equal(np.asarray(load_image(dst)), np.asarray(load_image(src)))  # CRCs valid, pixels equal


def test_smoke_run_writes_the_figures(tmp_path: Path) -> None:
    cmd = [sys.executable, "benchmarks/gpu_index.py", "--device", "cpu", "--n", "64", "--size", "tiny", "--cap", "3"]
    done = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, "OUT": str(tmp_path)}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    files = list(tmp_path.glob("gpu_index-*.json"))
    assert len(files) == 1
    r = json.loads(files[0].read_text())
    for key in FIGURES:
        f = r[key]
        assert f["images"] > 0 and f["seconds"] > 0 and f["images_per_s"] > 0, key
    assert r["end_to_end_exact"]["errors"] == 0 and r["decode_only_exact"]["images"] == 64
    assert r["end_to_end_ray"]["images"] == 64 and r["end_to_end_ray"]["errors"] == 0
    assert r["cosine_exact_vs_fast"]["n"] == 64 and r["cosine_exact_vs_fast"]["min"] > 0.999
    assert r["cosine_dtype_vs_fp32"]["n"] == 64  # bf16 by default, against an fp32 copy of the weights
    for key in ("peak_gpu_memory_mb", "peak_rss_mb", "gpu", "cpu", "versions", "setup_seconds", "total_seconds"):
        assert key in r
    assert r["cpu"]["count"] and r["versions"]["torch"] and r["device"] == "cpu" and r["n"] == 64
    assert "end to end, fast" in done.stdout and "on Ray" in done.stdout and "wrote" in done.stdout
