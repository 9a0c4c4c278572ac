"""Reading a bundle: index_info first, then the files it vouches for."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle import columns
from medmir.bundle.compact import Int8Rows
from medmir.bundle.format import (
    EMBEDDINGS,
    FALLBACK,
    FORMAT_NAME,
    INFO,
    METADATA,
    NEIGHBORS,
    READABLE_VERSIONS,
    SCALES,
    SHARD_ROWS,
    THUMB_INDEX,
    THUMBS_PER_PACK,
    embedding_shard,
    neighbor_ids_shard,
    neighbor_scores_shard,
    shard_count,
    thumb_pack,
)
from medmir.bundle.neighbors import top_k_rows
from medmir.core.errors import MedmirError


def read_json_file(path: Path) -> Any:
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MedmirError(f"{path}: not valid JSON ({exc}); truncated or damaged?") from exc


def read_info(bundle: Path) -> dict[str, Any]:
    if bundle.is_file():
        raise MedmirError(f"{bundle}: a file, not a bundle folder (give the folder that holds {INFO})")
    if not bundle.is_dir():
        raise MedmirError(f"{bundle}: bundle folder not found")
    info = read_json_file(bundle / INFO)
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise MedmirError(f"{bundle / INFO}: not a medmir bundle")
    if info.get("format_version") not in READABLE_VERSIONS:
        raise MedmirError(
            f"{bundle / INFO}: format_version {info.get('format_version')!r}, this medmir reads {READABLE_VERSIONS}"
        )
    for key in ("count", "dim", "files", "model"):
        if key not in info:
            raise MedmirError(f"{bundle / INFO}: missing {key!r}")
    return info


@dataclass
class Bundle:
    dir: Path
    info: dict[str, Any]
    metadata: Sequence[dict[str, Any]]  # version 2: built row by row as asked for (bundle/columns.py)
    _embeddings: np.ndarray | None  # version 1: float32 [count, dim], memory-mapped
    rows: Int8Rows | None = None  # version 2: what ranking uses
    _nn: dict[str, Any] | None = None  # version 1's nearest_neighbors.json, once read
    _thumb_offsets: np.ndarray | None = None  # version 2's thumbs.idx, once read

    @classmethod
    def open(cls, bundle: Path, *, verify: bool = True) -> Bundle:
        """Open a bundle; with `verify`, every check of `medmir verify` runs first."""
        if verify:
            from medmir.bundle.verify import verify_bundle

            verify_bundle(bundle)
        info = read_info(bundle)
        n, dim = int(info["count"]), int(info["dim"])
        meta = read_json_file(bundle / METADATA)
        if info["format_version"] == 2:
            return cls(bundle, info, columns.Rows(meta, n, str(bundle / METADATA)), None, read_int8_rows(bundle, info))
        path = bundle / EMBEDDINGS
        if not path.is_file() or path.stat().st_size != n * dim * 4:
            raise MedmirError(f"{path}: expected {n} x {dim} float32 = {n * dim * 4} bytes")
        emb = np.memmap(path, dtype="<f4", mode="r", shape=(n, dim)) if n else np.zeros((0, dim), np.float32)
        return cls(bundle, info, meta["images"], emb)

    @property
    def embeddings(self) -> np.ndarray:
        """float32 [count, dim]: the rows (version 2: dequantized when first asked for, for inspection only)."""
        if self._embeddings is None:
            assert self.rows is not None
            self._embeddings = self.rows.dequantize()
        return self._embeddings

    @property
    def count(self) -> int:
        return int(self.info["count"])

    def scores(self, query: np.ndarray) -> np.ndarray:
        """float32 [count]: the query's score against every row, computed as the browser computes it."""
        if self.rows is not None:
            return self.rows.scores(query)
        return np.asarray(self.embeddings @ np.asarray(query, dtype=np.float32), dtype=np.float32)

    def score_matrix(self, queries: np.ndarray) -> np.ndarray:
        """float32 [len(queries), count]."""
        if self.rows is not None:
            return self.rows.scores_many(queries) if len(queries) else np.zeros((0, self.count), np.float32)
        return np.asarray(np.asarray(queries, dtype=np.float32) @ np.asarray(self.embeddings).T, dtype=np.float32)

    def top_k_many(
        self, queries: np.ndarray, k: int, passes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each query's `k` best rows (ids [m, k'], scores [m, k'], best first, ties by lower row), scored as `scores`
        scores them; `passes` (bool [count]): the rows allowed (the others score -inf)."""
        if self.rows is not None:
            return self.rows.top_k_many(queries, k, passes)
        block = self.score_matrix(queries)
        if passes is not None:
            block[:, ~passes] = -np.inf
        ids = top_k_rows(block, k)
        return ids, np.take_along_axis(block, ids, axis=1)

    def neighbors(self) -> dict[str, Any]:
        """{"k", "ids", "scores"} as lists (version 1's nearest_neighbors.json shape, for both versions)."""
        if self.info["format_version"] == 2:
            ids, scores = read_neighbor_shards(self.dir, self.info)
            return {"k": int(ids.shape[1]), "ids": ids.tolist(), "scores": scores.tolist()}
        return read_json_file(self.dir / NEIGHBORS)

    def embedding(self, row: int) -> np.ndarray:
        """float32 [dim]: row `row` (version 2: dequantized from its int8 code)."""
        if self.rows is None:
            return np.asarray(self.embeddings[row], dtype=np.float32)
        r = self.rows
        return r.codes[row].astype(np.float32) * r.scales[row] + r.center

    def row_labels(self, row: int) -> list[str]:
        """Row `row`'s labels (version 2: from the label column, without building the row)."""
        if isinstance(self.metadata, columns.Rows):
            table = self.metadata.label_table
            return [table[j] for j in self.metadata.label_ids(row)]
        return list(self.metadata[row]["labels"])

    def label_matrix(self) -> tuple[list[str], np.ndarray]:
        """(every label, sorted; bool [count, labels]: which row carries which), without building the rows."""
        if isinstance(self.metadata, columns.Rows):
            table, has = self.metadata.label_table, self.metadata.label_matrix()
        else:
            table = sorted({lab for m in self.metadata for lab in m["labels"]})
            col = {lab: j for j, lab in enumerate(table)}
            has = np.zeros((self.count, len(table)), dtype=bool)
            for i, m in enumerate(self.metadata):
                has[i, [col[lab] for lab in m["labels"]]] = True
        order = sorted(range(len(table)), key=table.__getitem__)
        return [table[j] for j in order], has[:, order]

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per facet (DICOM tags, docs/DICOM.md): (its values; int32 [count], each row's value index or -1)."""
        if isinstance(self.metadata, columns.Rows):
            return self.metadata.facet_columns()
        names = sorted({name for m in self.metadata for name in m.get("facets", {})})
        out = {}
        for name in names:
            values = sorted({m["facets"][name] for m in self.metadata if name in m.get("facets", {})})
            at = {v: j for j, v in enumerate(values)}
            rows = [at.get(m.get("facets", {}).get(name, ""), -1) for m in self.metadata]
            out[name] = (values, np.asarray(rows, dtype=np.int32))
        return out

    def neighbors_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Row `row`'s precomputed neighbours: ids (int64 [k]) and scores (float32 [k]), read alone from its shard."""
        if self.info["format_version"] != 2:
            if self._nn is None:
                self._nn = read_json_file(self.dir / NEIGHBORS)
            return np.asarray(self._nn["ids"][row], np.int64), np.asarray(self._nn["scores"][row], np.float32)
        k, per = int(self.info["neighbors"]["k"]), int(self.info.get("shard_rows", SHARD_ROWS))
        s, at = divmod(row, per)
        out = []
        for name, dtype in ((neighbor_ids_shard(s), "<i4"), (neighbor_scores_shard(s), "<f4")):
            path = self.dir / name
            with path.open("rb") as f:
                f.seek(at * k * 4)
                data = f.read(k * 4)
            if len(data) != k * 4:
                raise MedmirError(f"{path}: row {row}'s neighbours run past the end (truncated?)")
            out.append(np.frombuffer(data, dtype=dtype))
        return out[0].astype(np.int64), out[1].astype(np.float32)

    def fallback(self) -> dict[str, Any]:
        return read_json_file(self.dir / FALLBACK)

    def thumbnail(self, row: int) -> bytes:
        """Row `row`'s WebP thumbnail: version 1's images/NAME.webp, or version 2's slice of its thumbnail pack."""
        if not 0 <= row < self.count:
            raise MedmirError(f"{self.dir}: no row {row} (count {self.count})")
        if self.info["format_version"] != 2:
            path = self.dir / self.metadata[row]["thumbnail"]
            if not path.is_file():
                raise MedmirError(f"{path}: missing")
            return path.read_bytes()
        index = self.dir / THUMB_INDEX
        if self._thumb_offsets is None:  # read once: a pass over every row reads it once, not once a row
            data = _read_exact(index, self.count * 8, f"{self.count} x 2 uint32")
            self._thumb_offsets = np.frombuffer(data, dtype="<u4")
        start, length = int(self._thumb_offsets[2 * row]), int(self._thumb_offsets[2 * row + 1])
        path = self.dir / thumb_pack(row // int(self.info.get("thumbs_per_pack", THUMBS_PER_PACK)))
        if not path.is_file():
            raise MedmirError(f"{path}: missing")
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(length)
        if len(data) != length:
            raise MedmirError(f"{path}: row {row}'s thumbnail ({start}+{length}) runs past the end; see {index}")
        return data


def _read_exact(path: Path, size: int, what: str) -> bytes:
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    data = path.read_bytes()
    if len(data) != size:
        raise MedmirError(f"{path}: {len(data)} bytes, expected {size} ({what})")
    return data


def _read_into(path: Path, out: np.ndarray, what: str) -> None:
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size != out.nbytes:
            raise MedmirError(f"{path}: {size} bytes, expected {out.nbytes} ({what})")
        if f.readinto(memoryview(out).cast("B")) != size:
            raise MedmirError(f"{path}: shorter than its {size} bytes while read ({what})")


def read_int8_rows(bundle: Path, info: dict[str, Any]) -> Int8Rows:
    """A version 2 bundle's int8 rows, scales and center, sizes checked against index_info.json."""
    n, dim = int(info["count"]), int(info["dim"])
    per = int(info.get("shard_rows", SHARD_ROWS))
    codes = np.empty((n, dim), dtype=np.int8)  # each shard read straight into its rows: no second copy
    for s in range(shard_count(n, per)):
        rows = min(per, n - s * per)
        _read_into(bundle / embedding_shard(s), codes[s * per : s * per + rows], f"{rows} x {dim} int8")
    scales = np.frombuffer(_read_exact(bundle / SCALES, n * 4, f"{n} float32"), dtype="<f4")
    center = np.asarray(info.get("center"), dtype=np.float32)
    if center.shape != (dim,):
        raise MedmirError(f"{bundle / INFO}: center must list {dim} numbers")
    return Int8Rows(codes, scales.astype(np.float32), center)


def read_neighbor_shards(bundle: Path, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    n, k = int(info["count"]), int(info["neighbors"]["k"])
    per = int(info.get("shard_rows", SHARD_ROWS))
    ids, scores = [], []
    for s in range(shard_count(n, per)):
        rows = min(per, n - s * per)
        ids.append(np.frombuffer(_read_exact(bundle / neighbor_ids_shard(s), rows * k * 4, "int32 ids"), "<i4"))
        scores.append(np.frombuffer(_read_exact(bundle / neighbor_scores_shard(s), rows * k * 4, "scores"), "<f4"))
    if not ids:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return np.concatenate(ids).reshape(n, k).astype(np.int64), np.concatenate(scores).reshape(n, k)
