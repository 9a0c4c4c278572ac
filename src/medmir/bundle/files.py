"""Reading a bundle's files: the primitives under both the readers (bundle/read.py) and `medmir verify`
(bundle/verify.py), so that neither needs the other: index_info.json, JSON files, files of an exact size, the
version 2 row and neighbour shards, and the file-name rule of the rows."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle.compact import Int8Rows
from medmir.bundle.format import INFO, SCALES, embedding_shard, neighbor_ids_shard, neighbor_scores_shard, shard_count
from medmir.bundle.info import BundleInfo
from medmir.core.errors import MedmirError
from medmir.data.records import check_filename


def fail(path: Path, msg: str) -> MedmirError:
    """The error of a bundle file: its path, then what is wrong with it."""
    return MedmirError(f"{path}: {msg}")


def read_json_file(path: Path) -> Any:
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MedmirError(f"{path}: not valid JSON ({exc}); truncated or damaged?") from exc


def read_info(bundle: Path) -> BundleInfo:
    """The bundle folder's index_info.json, once it is a bundle of a version this medmir reads."""
    if bundle.is_file():
        raise MedmirError(f"{bundle}: a file, not a bundle folder (give the folder that holds {INFO})")
    if not bundle.is_dir():
        raise MedmirError(f"{bundle}: bundle folder not found")
    return BundleInfo.from_json(read_json_file(bundle / INFO), bundle / INFO)


def read_exact(path: Path, size: int, what: str) -> bytes:
    """The whole file, which must be `size` bytes (`what`: what those bytes hold, for the error)."""
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    data = path.read_bytes()
    if len(data) != size:
        raise MedmirError(f"{path}: {len(data)} bytes, expected {size} ({what})")
    return data


def read_into(path: Path, out: np.ndarray, what: str) -> None:
    """The whole file straight into `out`, whose size it must have (no second copy)."""
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size != out.nbytes:
            raise MedmirError(f"{path}: {size} bytes, expected {out.nbytes} ({what})")
        if f.readinto(memoryview(out).cast("B")) != size:
            raise MedmirError(f"{path}: shorter than its {size} bytes while read ({what})")


def read_int8_rows(bundle: Path, info: BundleInfo) -> Int8Rows:
    """A version 2 bundle's int8 rows, scales and center, sizes checked against index_info.json."""
    n, dim, per = info.count, info.dim, info.rows_per_shard
    codes = np.empty((n, dim), dtype=np.int8)  # each shard read straight into its rows: no second copy
    for s in range(shard_count(n, per)):
        rows = min(per, n - s * per)
        read_into(bundle / embedding_shard(s), codes[s * per : s * per + rows], f"{rows} x {dim} int8")
    scales = np.frombuffer(read_exact(bundle / SCALES, n * 4, f"{n} float32"), dtype="<f4")
    center = np.asarray(info.center, dtype=np.float32)
    if center.shape != (dim,):
        raise MedmirError(f"{bundle / INFO}: center must list {dim} numbers")
    return Int8Rows(codes, scales.astype(np.float32), center)


def read_neighbor_shards(bundle: Path, info: BundleInfo) -> tuple[np.ndarray, np.ndarray]:
    """A version 2 bundle's neighbours: ids (int64 [count, k]) and scores (float32 [count, k])."""
    n, k, per = info.count, info.neighbors_k, info.rows_per_shard
    ids, scores = [], []
    for s in range(shard_count(n, per)):
        rows = min(per, n - s * per)
        ids.append(np.frombuffer(read_exact(bundle / neighbor_ids_shard(s), rows * k * 4, "int32 ids"), "<i4"))
        scores.append(np.frombuffer(read_exact(bundle / neighbor_scores_shard(s), rows * k * 4, "scores"), "<f4"))
    if not ids:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return np.concatenate(ids).reshape(n, k).astype(np.int64), np.concatenate(scores).reshape(n, k)


def check_names(path: Path, names: list[str]) -> None:
    """The rows' image file names (listed in `path`): each unique, each a name an image may have."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise fail(path, f"file name {name!r} appears twice")
        if (why := check_filename(name)) is not None:
            raise fail(path, f"row {i}: {why}")
        seen.add(name)
