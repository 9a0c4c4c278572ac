"""The scale benchmarks' synthetic bundles: real NIH metadata, contract-valid in both formats."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import make_bundle, nih_rows
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle


def test_rows_are_the_nih_csv_then_repeat_with_new_names() -> None:
    first = list(itertools.islice(nih_rows(3), 3))
    assert [r.filename for r in first] == ["00000001_000.png", "00000001_001.png", "00000001_002.png"]
    last = list(nih_rows(112_121))[-1]
    assert last.filename == "00000001_000-r1.png" and last.patient_id.endswith("-r1")


@pytest.mark.parametrize("version", [1, 2])
def test_synthetic_bundles_verify(tiny_pack: Path, tmp_path: Path, version: int) -> None:
    out = make_bundle(tmp_path / "b", 3000, pack_dir=tiny_pack, version=version)
    verify_bundle(out)
    b = Bundle.open(out)
    assert b.count == 3000 and b.info.format_version == version
    assert b.metadata[0]["labels"] == ["Cardiomegaly"]
