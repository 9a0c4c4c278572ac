"""The full-size BiomedCLIP architecture (random weights, real shapes): sizes, parity, check. Takes minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_export import assert_text_parity, assert_vision_parity

from medmir.model.config import model_definition
from medmir.model.pack import check_pack

pytestmark = pytest.mark.slow


def test_full_pack_sizes_within_targets(full_pack: Path) -> None:
    targets = model_definition("biomedclip")["size_targets_bytes"]
    manifest = json.loads((full_pack / "manifest.json").read_text())
    for name, limit in targets.items():
        assert (full_pack / name).stat().st_size <= limit, name
    assert manifest["model"]["parameters"] == 195_902_721
    assert manifest["model"]["checkpoint_matches_published"] is False  # random weights, not the real .bin


def test_full_text_parity(full_checkpoint: Path, full_pack: Path) -> None:
    assert_text_parity(full_checkpoint, full_pack)


def test_full_vision_parity(full_checkpoint: Path, full_pack: Path) -> None:
    assert_vision_parity(full_checkpoint, full_pack)


def test_full_pack_checks(full_pack: Path) -> None:
    results = check_pack(full_pack)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
