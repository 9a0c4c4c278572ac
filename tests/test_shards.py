"""The Ray engine's embedding shards (medmir.index.shards): kept whole, found again by source, damage set aside, and
only in a folder that is empty or already a store of the same pack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medmir.core.errors import MedmirError
from medmir.index.shards import Row, ShardStore, Source


def _add(store: ShardStore, folder: Path, names: list[str]) -> list[Source]:
    sources = []
    for n in names:
        (folder / n).write_bytes(n.encode())
        sources.append(Source.of(folder / n))
    rows = [Row(f"sha-{n}", np.full(4, i, np.float32), "") for i, n in enumerate(names)]
    rows[-1] = Row("", None, "cannot decode")
    store.add(sources, rows, [b"RIFFthumb"] * len(rows))
    return sources


def test_rows_come_back_by_source_in_a_new_store_object(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    store = ShardStore(tmp_path / "s", "pack", "fp32", 4)
    sources = _add(store, tmp_path / "img", ["a", "b", "c"])
    again = ShardStore(tmp_path / "s", "pack", "fp32", 4)
    assert len(again) == 3
    a = again.get(sources[0])
    assert a is not None and a.sha == "sha-a" and np.array_equal(a.vector, np.zeros(4))
    bad = again.get(sources[2])
    assert bad is not None and bad.vector is None and bad.error == "cannot decode"
    assert again.thumbnail("sha-b").read_bytes() == b"RIFFthumb" and not again.thumbnail("").exists()
    (tmp_path / "img" / "a").write_bytes(b"changed!")  # another size: not the same source any more
    assert again.get(Source.of(tmp_path / "img" / "a")) is None


def test_a_damaged_shard_is_set_aside(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    store = ShardStore(tmp_path / "s", "pack", "fp32", 4)
    _add(store, tmp_path / "img", ["a"])
    shard = next((tmp_path / "s").glob("shard-*.npz"))
    shard.write_bytes(shard.read_bytes()[:50])
    with pytest.warns(UserWarning, match="damaged"):
        again = ShardStore(tmp_path / "s", "pack", "fp32", 4)
    assert len(again) == 0 and shard.with_suffix(".damaged").is_file()


def test_other_packs_and_strangers_folders_are_refused(tmp_path: Path) -> None:
    ShardStore(tmp_path / "s", "pack", "fp32", 4)
    with pytest.raises(MedmirError, match="another pack"):
        ShardStore(tmp_path / "s", "other", "fp32", 4)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(MedmirError, match="not a shard store"):
        ShardStore(tmp_path / "mine", "pack", "fp32", 4)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
