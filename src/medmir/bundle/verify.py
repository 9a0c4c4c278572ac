"""`medmir verify`: every promise of the bundle contract, checked; the first broken one is a precise error."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle import columns
from medmir.bundle.bands import BANDS, METHOD, check_score_bands, score_bands
from medmir.bundle.files import check_names, fail, read_info, read_int8_rows, read_json_file, read_neighbor_shards
from medmir.bundle.format import (
    DATA_FILES,
    EMBEDDINGS,
    FALLBACK,
    IMAGES,
    INFO,
    METADATA,
    NEIGHBORS,
    SCALES,
    THUMB_INDEX,
    embedding_shard,
    images_digest,
    neighbor_ids_shard,
    neighbor_scores_shard,
    shard_count,
    thumb_pack,
    thumbnail_name,
)
from medmir.bundle.info import BundleInfo
from medmir.core.fsutil import sha256_file
from medmir.core.verified import check_once

# int8 rounding moves a unit row's norm by far less than this; more is damage
INT8_NORM_TOLERANCE = 1e-2
# score bands recomputed from the stored scores (version 1 rounds them to 6 decimals) agree to well within this
BAND_TOLERANCE = 1e-5
_META_KEYS = ("id", "filename", "thumbnail", "labels", "primary_label", "report", "patient_id", "age", "sex", "view")


def _check_files(bundle: Path, info: BundleInfo, required: tuple[str, ...] = DATA_FILES) -> None:
    files = info.files
    for name in required:
        if name not in files:
            raise fail(bundle / INFO, f"files lacks {name}")
    for name, meta in files.items():
        p = bundle / name
        if not p.is_file():
            raise fail(p, "listed in index_info.json but missing")
        if p.stat().st_size != meta["bytes"]:
            raise fail(p, f"{p.stat().st_size} bytes, index_info.json says {meta['bytes']} (truncated or replaced)")
        if sha256_file(p) != meta["sha256"]:
            raise fail(p, "sha256 does not match index_info.json (the file was modified)")


def _check_embeddings(bundle: Path, n: int, dim: int) -> None:
    p = bundle / EMBEDDINGS
    want = n * dim * 4
    if p.stat().st_size != want:
        raise fail(p, f"{p.stat().st_size} bytes, expected {n} x {dim} x 4 = {want}")
    if n == 0:
        return
    emb = np.memmap(p, dtype="<f4", mode="r", shape=(n, dim))
    for start in range(0, n, 65536):
        block = np.asarray(emb[start : start + 65536])
        if not np.isfinite(block).all():
            row = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise fail(p, f"row {row} holds NaN or infinity")
        norms = np.linalg.norm(block, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1) > 1e-3)
        if bad.size:
            row = start + int(bad[0])
            raise fail(p, f"row {row} has norm {norms[bad[0]]:.4f}, expected 1")


def _check_metadata(bundle: Path, n: int) -> list[dict[str, Any]]:
    p = bundle / METADATA
    meta = read_json_file(p)
    images = meta.get("images") if isinstance(meta, dict) else None
    if not isinstance(images, list):
        raise fail(p, "no 'images' list")
    if len(images) != n:
        raise fail(p, f"{len(images)} entries, index_info.json says {n}")
    names: set[str] = set()
    for i, entry in enumerate(images):
        missing = [k for k in _META_KEYS if k not in entry]
        if missing:
            raise fail(p, f"entry {i} lacks {', '.join(missing)}")
        if entry["id"] != i:
            raise fail(p, f"entry {i} has id {entry['id']}: ids must equal row numbers")
        if entry["filename"] in names:
            raise fail(p, f"file name {entry['filename']!r} appears twice")
        names.add(entry["filename"])
        if entry["thumbnail"] != f"{IMAGES}/{thumbnail_name(entry['filename'])}":
            raise fail(p, f"entry {i} thumbnail {entry['thumbnail']!r} does not follow the naming rule")
        if not isinstance(entry["labels"], list):
            raise fail(p, f"entry {i} labels is not a list")
        facets = entry.get("facets", {})
        if not isinstance(facets, dict) or not all(isinstance(v, str) for v in facets.values()):
            raise fail(p, f"entry {i} facets is not an object of strings")
    return images


def _check_ranked(path: Path, ids: Any, scores: Any, n: int, self_row: int | None = None) -> None:
    if not isinstance(ids, list) or not isinstance(scores, list) or len(ids) != len(scores):
        raise fail(path, "ids and scores must be lists of equal length")
    if any(not isinstance(i, int) or not 0 <= i < n for i in ids):
        raise fail(path, f"an id is out of range 0..{n - 1}")
    if len(set(ids)) != len(ids):
        raise fail(path, "an id repeats within one result list")
    if self_row is not None and self_row in ids:
        raise fail(path, f"row {self_row} lists itself as a neighbour")
    if any(a < b for a, b in itertools.pairwise(scores)):
        raise fail(path, "scores are not in descending order")


def _check_neighbors(bundle: Path, n: int) -> np.ndarray:
    """The neighbour scores [n, k], once every row is checked."""
    p = bundle / NEIGHBORS
    nn = read_json_file(p)
    ids, scores = nn.get("ids"), nn.get("scores")
    if not isinstance(ids, list) or len(ids) != n or not isinstance(scores, list) or len(scores) != n:
        raise fail(p, f"expected {n} rows of ids and scores")
    k = nn.get("k")
    for row, (i, s) in enumerate(zip(ids, scores, strict=True)):
        if len(i) != min(k, max(n - 1, 0)):
            raise fail(p, f"row {row} has {len(i)} neighbours, k is {k}")
        _check_ranked(p, i, s, n, self_row=row)
    return np.asarray(scores, dtype=np.float64).reshape(n, -1)


def _check_fallback(bundle: Path, n: int) -> dict[str, Any]:
    p = bundle / FALLBACK
    fb = read_json_file(p)
    queries = fb.get("queries")
    if not isinstance(queries, list) or not queries:
        raise fail(p, "no queries")
    for q in queries:
        _check_ranked(p, q.get("ids"), q.get("scores"), n)
    return fb


def _check_bands(bundle: Path, info: BundleInfo, neighbor_scores: np.ndarray, fallback: dict[str, Any]) -> str:
    """index_info.json `score_bands` (optional: bundles written before it lack it): well formed, and, when made by
    this medmir's method, the bands of the bundle's own neighbour and fallback scores."""
    if "score_bands" not in info.raw:
        return "score bands: none (written by an older medmir; `medmir index --update` or a new index adds them)"
    p, got = bundle / INFO, info.raw["score_bands"]
    if (why := check_score_bands(got)) is not None:
        raise fail(p, why)
    if got["method"] != METHOD:
        return "score bands: numbers in [-1, 1], close >= similar >= related (another method: not recomputed)"
    want = score_bands(neighbor_scores, fallback)
    for kind in ("image", "text"):
        a, b = got.get(kind), want[kind]
        if (a is None) != (b is None) or (a and b and any(abs(a[x] - b[x]) > BAND_TOLERANCE for x in BANDS)):
            raise fail(p, f"score_bands.{kind} is {a}, but the bundle's own scores give {b}")
    return "score bands: close >= similar >= related, equal to the quantiles of the stored scores"


def _check_thumbnails(bundle: Path, info: BundleInfo, images: list[dict[str, Any]]) -> None:
    folder = bundle / IMAGES
    entries = []
    for entry in images:
        p = bundle / entry["thumbnail"]
        if not p.is_file():
            raise fail(p, "thumbnail missing")
        entries.append((p.name, sha256_file(p)))
    extra = {p.name for p in folder.iterdir()} - {name for name, _ in entries} if folder.is_dir() else set()
    if extra:
        raise fail(folder, f"{len(extra)} file(s) not in metadata.json, e.g. {sorted(extra)[0]}")
    want = info.images
    if want.get("count") != len(entries) or want.get("sha256") != images_digest(entries):
        raise fail(folder, "thumbnails differ from index_info.json (count or digest)")


def verify_bundle(bundle: Path, *, thumbnails: bool = True) -> list[str]:
    """Raise MedmirError on the first broken promise; return what was checked."""
    info = read_info(bundle)
    if info.format_version == 2:
        return _verify_v2(bundle, info, thumbnails=thumbnails)
    n, dim = info.count, info.dim
    if info.dtype != "float32":
        raise fail(bundle / INFO, f"dtype {info.dtype!r}, expected float32")
    _check_files(bundle, info)
    _check_embeddings(bundle, n, dim)
    images = _check_metadata(bundle, n)
    nn_scores = _check_neighbors(bundle, n)
    fallback = _check_fallback(bundle, n)
    done = [
        f"index_info.json: format {info.format_version}, {n} images x {dim} float32",
        f"checksums of {len(info.files)} files",
        "embeddings: size, finite, unit norm",
        "metadata: ids = rows, unique file names, thumbnail names",
        "neighbours: in range, self excluded, descending",
        "fallback results: in range, descending",
        _check_bands(bundle, info, nn_scores, fallback),
    ]
    if thumbnails:
        _check_thumbnails(bundle, info, images)
        done.append(f"{len(images)} thumbnails present, digest matches")
    return done


def _verify_v2(bundle: Path, info: BundleInfo, *, thumbnails: bool) -> list[str]:
    n, dim = info.count, info.dim
    if info.dtype != "int8":
        raise fail(bundle / INFO, f"dtype {info.dtype!r}, expected int8 (format version 2)")
    per, per_pack = info.shard_rows or 0, info.thumbs_per_pack or 0
    if per < 1 or per_pack < 1:
        raise fail(bundle / INFO, "shard_rows and thumbs_per_pack must be at least 1")
    shards = [f(s) for s in range(shard_count(n, per)) for f in (embedding_shard, neighbor_ids_shard,
              neighbor_scores_shard)]  # fmt: skip
    packs = [thumb_pack(p) for p in range(shard_count(n, per_pack))]
    _check_files(bundle, info, required=(METADATA, FALLBACK, SCALES, THUMB_INDEX, *shards, *packs))
    rows = read_int8_rows(bundle, info)
    if not np.isfinite(rows.scales).all() or (rows.scales <= 0).any() or not np.isfinite(rows.center).all():
        raise fail(bundle / SCALES, "scales must be finite and positive, the center finite")
    norms = np.linalg.norm(rows.dequantize(), axis=1)
    bad = np.flatnonzero(np.abs(norms - 1) > INT8_NORM_TOLERANCE)
    if bad.size:
        raise fail(bundle / embedding_shard(int(bad[0]) // per), f"row {bad[0]} has norm {norms[bad[0]]:.4f}")
    images = columns.decode(read_json_file(bundle / METADATA), n, str(bundle / METADATA))
    check_names(bundle / METADATA, [m["filename"] for m in images])
    ids, scores = read_neighbor_shards(bundle, info)
    for row in range(n):
        _check_ranked(bundle / neighbor_ids_shard(row // per), ids[row].tolist(), scores[row].tolist(), n, row)
    fallback = _check_fallback(bundle, n)
    done = [
        f"index_info.json: format 2, {n} images x {dim} int8 in shards of {per}",
        f"checksums of {len(info.files)} files",
        "int8 rows: sizes, scales, unit norm after dequantizing",
        "metadata columns: lengths, table indices, unique file names",
        "neighbours: in range, self excluded, descending",
        "fallback results: in range, descending",
        _check_bands(bundle, info, scores, fallback),
    ]
    if thumbnails:
        _check_thumb_packs(bundle, n, per_pack)
        done.append(f"{n} thumbnails: each inside its pack, packs covered exactly, WebP")
    return done


def _check_thumb_packs(bundle: Path, n: int, per_pack: int) -> None:
    idx_path = bundle / THUMB_INDEX
    index = np.frombuffer(idx_path.read_bytes(), dtype="<u4")
    if index.size != 2 * n:
        raise fail(idx_path, f"{index.size * 4} bytes, expected {n} x 2 uint32")
    index = index.reshape(n, 2)
    for p in range(shard_count(n, per_pack)):
        path = bundle / thumb_pack(p)
        data = path.read_bytes()
        offset = 0
        for row in range(p * per_pack, min(n, (p + 1) * per_pack)):
            start, length = (int(v) for v in index[row])
            if start != offset or start + length > len(data):
                raise fail(idx_path, f"row {row}: thumbnail at {start}+{length} does not follow the previous one")
            if data[start : start + 4] != b"RIFF" or data[start + 8 : start + 12] != b"WEBP":
                raise fail(path, f"row {row}: not a WebP image")
            offset = start + length
        if offset != len(data):
            raise fail(path, f"{len(data) - offset} bytes after the last thumbnail")


def _checked_files(bundle: Path) -> list[Path]:
    """Every file `verify_bundle(thumbnails=False)` reads: all but the thumbnails (version 1 has one per row)."""
    out = []
    for folder, dirs, files in os.walk(bundle):
        if Path(folder) == bundle:
            dirs[:] = [d for d in dirs if d != IMAGES]
        out.extend(Path(folder) / f for f in files)
    return out


def verify_once(bundle: Path) -> None:
    """`verify_bundle` (thumbnails aside), unless this bundle passed it before and no file it reads has changed
    since (medmir.core.verified). `medmir verify` always checks everything."""
    check_once("bundle", bundle, _checked_files(bundle), lambda: verify_bundle(bundle, thumbnails=False))
