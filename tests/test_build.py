"""`medmir build`: select -> process -> index in one command, and its fail-fast input checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NIH_SAMPLE

from medmir.bundle.read import Bundle
from medmir.cli.build import resolve_inputs
from medmir.cli.pipeline import build
from medmir.core.errors import MedmirError


def test_build_end_to_end_with_the_tiny_pack(tiny_pack: Path, tmp_path: Path) -> None:
    logs: list[str] = []
    res = build(NIH_SAMPLE, str(tiny_pack), tmp_path / "demo", per_label=2, workers=2, log=logs.append)
    b = Bundle.open(res.bundle)
    assert b.count >= 15 and res.random_weights
    assert b.info.format_version == 2  # the default bundle format
    assert (tmp_path / "demo" / "work" / "thumbnails").is_dir()
    assert any("select:" in line for line in logs) and any("meaningless" in line for line in logs)
    # thumbnails in the bundle are the process stage's WebP files
    for row in (0, b.count - 1):
        thumb = tmp_path / "demo" / "work" / "thumbnails" / Path(b.metadata[row]["thumbnail"]).name
        assert b.thumbnail(row) == thumb.read_bytes()


def test_build_fails_fast_without_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MEDMIR_DATA", raising=False)
    monkeypatch.delenv("MEDMIR_MODEL", raising=False)
    with pytest.raises(MedmirError, match=r"MEDMIR_DATA.*MEDMIR_MODEL.*random-biomedclip"):
        resolve_inputs(None, None)
    with pytest.raises(MedmirError, match="data folder not found"):
        resolve_inputs(str(tmp_path / "nope"), "random-biomedclip")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDMIR_")}
    proc = subprocess.run([sys.executable, "-m", "medmir.cli", "build", "--out", str(tmp_path / "o")],
                          capture_output=True, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and b"MEDMIR_DATA" in proc.stderr and b"Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_build_with_a_bad_pack_fails_before_image_work(tmp_path: Path) -> None:
    with pytest.raises(MedmirError, match="model pack folder not found"):
        build(NIH_SAMPLE, str(tmp_path / "nopack"), tmp_path / "demo", per_label=2, log=lambda s: None)
    assert not (tmp_path / "demo" / "work" / "selected").exists()
