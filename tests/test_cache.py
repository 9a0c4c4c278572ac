"""The embedding cache never costs correctness: damaged files and rows, on real `medmir index` runs (tiny model)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE

from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.index.cache import CacheWarning, EmbeddingCache
from medmir.model.pack import ModelPack

N_IMAGES = 6


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cache-src")
    (root / "images").mkdir()
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:N_IMAGES]
    for n in names:
        shutil.copy(NIH_SAMPLE / "images" / n, root / "images" / n)
    (root / "labels.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in names))
    return root


@pytest.fixture(scope="module")
def reference(source: Path, tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A bundle and the cache file its run filled (copied by each test before it damages it)."""
    root = tmp_path_factory.mktemp("cache-ref")
    proc = _index(source, tiny_pack, root / "bundle", root / "cache")
    assert proc.returncode == 0, proc.stderr
    (cache_file,) = (root / "cache").iterdir()
    return root / "bundle", cache_file


def _index(source: Path, pack: Path, out: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medmir.cli", "index", "--images", str(source / "images"), "--labels",
         str(source / "labels.csv"), "--model", str(pack), "--out", str(out), "--cache", str(cache), "--workers", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _copy_cache(cache_file: Path, tmp_path: Path) -> Path:
    (tmp_path / "cache").mkdir()
    return Path(shutil.copy(cache_file, tmp_path / "cache" / cache_file.name))


def _flat(proc: subprocess.CompletedProcess[str]) -> str:
    """stderr with line breaks undone (rich wraps at 80 columns when not on a terminal)."""
    return " ".join(proc.stderr.split())


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])


def _assert_recovered(proc: subprocess.CompletedProcess[str], out: Path, reference: Path) -> None:
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    verify_bundle(out)
    want = Bundle.open(reference).embeddings
    assert np.array_equal(Bundle.open(out).embeddings, want)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_file_is_moved_aside_and_rebuilt(
    damage: str, source: Path, tiny_pack: Path, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, cache_file = reference
    bad = _copy_cache(cache_file, tmp_path)
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:
        bad.write_bytes(os.urandom(3000))
    damaged = bad.read_bytes()
    proc = _index(source, tiny_pack, tmp_path / "out", bad.parent)
    _assert_recovered(proc, tmp_path / "out", bundle)
    assert str(bad) in _flat(proc)  # the message names the file
    assert "damaged" in proc.stderr and f"{N_IMAGES} embedded" in _flat(proc) and "0 from cache" in _flat(proc)
    (kept,) = bad.parent.glob(f"{bad.name}.corrupt-*")
    assert kept.read_bytes() == damaged  # set aside, never deleted
    assert _rows(bad) == N_IMAGES  # the rebuilt cache serves the next run
    again = _index(source, tiny_pack, tmp_path / "out2", bad.parent)
    assert again.returncode == 0 and f"{N_IMAGES} from cache" in _flat(again) and "damaged" not in again.stderr


def test_bad_rows_are_embedded_again(
    source: Path, tiny_pack: Path, reference: tuple[Path, Path], tmp_path: Path
) -> None:
    bundle, cache_file = reference
    bad = _copy_cache(cache_file, tmp_path)
    shas = [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((source / "images").iterdir())]
    with sqlite3.connect(bad) as db:
        good = np.frombuffer(db.execute("SELECT vec FROM emb").fetchone()[0], "<f4")
    nan = good.copy()
    nan[3] = np.nan
    rows = [
        (shas[0], nan.tobytes()),
        (shas[1], good[:-1].tobytes()),  # short
        (shas[2], good[: good.size // 2].astype("<f8").tobytes()),  # float64: right byte count, wrong dtype
        (shas[3], "not bytes"),
    ]
    with sqlite3.connect(bad) as db:
        db.executemany("INSERT OR REPLACE INTO emb (sha, vec) VALUES (?, ?)", rows)
    proc = _index(source, tiny_pack, tmp_path / "out", bad.parent)
    _assert_recovered(proc, tmp_path / "out", bundle)
    message = _flat(proc)
    assert str(bad) in message and "4 cached embedding(s) unusable" in message
    for what in ("NaN", "wrong length", "unit length", "not a byte string"):
        assert what in message
    assert "4 embedded" in message and f"{N_IMAGES - 4} from cache" in message
    assert not list(bad.parent.glob("*.corrupt-*"))  # bad rows are repaired in place, the file is fine
    cache = EmbeddingCache(bad.parent, ModelPack.open(tiny_pack), "fp32")
    assert all(cache.get(s) is not None for s in shas)  # overwritten with fresh embeddings


def test_cache_refuses_to_store_non_finite_rows(tiny_pack: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, ModelPack.open(tiny_pack), "fp32")
    v = np.zeros(64, np.float32)
    v[0] = 1
    cache.put_many([("a", v), ("b", np.full(64, np.nan, np.float32))])
    assert cache.get("a") is not None and cache.get("b") is None and not cache.bad_rows


def test_wrong_schema_is_damage(tiny_pack: Path, tmp_path: Path) -> None:
    pack = ModelPack.open(tiny_pack)
    path = EmbeddingCache(tmp_path, pack, "fp32").path
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE emb (key TEXT, value INTEGER)")
    with pytest.warns(CacheWarning, match=r"columns \['key', 'value'\].*moved it to"):
        cache = EmbeddingCache(tmp_path, pack, "fp32")
    assert cache.is_empty() and len(list(tmp_path.glob("*.corrupt-*"))) == 1


def test_damage_during_a_run_turns_the_cache_off(tiny_pack: Path, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, ModelPack.open(tiny_pack), "fp32")
    v = np.zeros(64, np.float32)
    v[0] = 1
    cache.put_many([("a", v)])
    cache.path.write_bytes(os.urandom(cache.path.stat().st_size))  # another program wrecks it mid-run
    with pytest.warns(CacheWarning, match=r"reading the embedding cache failed .*moved it to .*corrupt-"):
        assert cache.get("a") is None
    cache.put_many([("b", v)])  # off for the rest of the run: no error, nothing written
    assert not cache.path.exists() and len(list(tmp_path.glob("*.corrupt-*"))) == 1
