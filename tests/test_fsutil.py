from __future__ import annotations

from pathlib import Path

import pytest

from medmir.core.fsutil import atomic_write_bytes, staging_dir


def test_staging_dir_replaces_only_on_success(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staging_dir(out, "select") as tmp:
        (tmp / "a").write_text("1")
    assert (out / "a").read_text() == "1"
    with pytest.raises(RuntimeError), staging_dir(out, "select") as tmp:
        (tmp / "a").write_text("2")
        raise RuntimeError("boom")
    assert (out / "a").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with staging_dir(out, "select") as tmp:
        (tmp / "b").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == [".medmir-output.json", "b"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_write_is_readable_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "x" / "f.json"
    atomic_write_bytes(p, b"{}")
    assert p.read_bytes() == b"{}"
    assert p.stat().st_mode & 0o777 == 0o644
    assert [q.name for q in p.parent.iterdir()] == ["f.json"]
