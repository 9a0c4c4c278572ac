"""Reading a version 1 bundle: float32 embeddings.bin (memory-mapped), metadata.json entries,
nearest_neighbors.json, one WebP file a thumbnail in images/ (docs/FORMAT.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle.files import read_json_file
from medmir.bundle.format import EMBEDDINGS, METADATA, NEIGHBORS
from medmir.bundle.info import BundleInfo
from medmir.bundle.neighbors import top_k_rows
from medmir.core.errors import MedmirError


class ReaderV1:
    """What differs by version in medmir.bundle.read.Bundle, for version 1 (the twin of the web's CollectionV1)."""

    rows = None  # no int8 rows: the float32 embeddings are ranked as they are

    def __init__(self, bundle: Path, info: BundleInfo) -> None:
        self.dir, self.info = bundle, info
        n, dim = info.count, info.dim
        meta = read_json_file(bundle / METADATA)
        path = bundle / EMBEDDINGS
        if not path.is_file() or path.stat().st_size != n * dim * 4:
            raise MedmirError(f"{path}: expected {n} x {dim} float32 = {n * dim * 4} bytes")
        self.metadata: list[dict[str, Any]] = meta["images"]
        self.embeddings = np.memmap(path, "<f4", "r", shape=(n, dim)) if n else np.zeros((0, dim), np.float32)
        self._nn: dict[str, Any] | None = None  # nearest_neighbors.json, once read

    def scores(self, query: np.ndarray) -> np.ndarray:
        return np.asarray(self.embeddings @ np.asarray(query, dtype=np.float32), dtype=np.float32)

    def score_matrix(self, queries: np.ndarray) -> np.ndarray:
        return np.asarray(np.asarray(queries, dtype=np.float32) @ np.asarray(self.embeddings).T, dtype=np.float32)

    def top_k_many(
        self, queries: np.ndarray, k: int, passes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        block = self.score_matrix(queries)
        if passes is not None:
            block[:, ~passes] = -np.inf
        ids = top_k_rows(block, k)
        return ids, np.take_along_axis(block, ids, axis=1)

    def neighbors(self) -> dict[str, Any]:
        return read_json_file(self.dir / NEIGHBORS)

    def neighbors_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        if self._nn is None:
            self._nn = read_json_file(self.dir / NEIGHBORS)
        return np.asarray(self._nn["ids"][row], np.int64), np.asarray(self._nn["scores"][row], np.float32)

    def embedding(self, row: int) -> np.ndarray:
        return np.asarray(self.embeddings[row], dtype=np.float32)

    def row_labels(self, row: int) -> list[str]:
        return list(self.metadata[row]["labels"])

    def label_matrix(self) -> tuple[list[str], np.ndarray]:
        table = sorted({lab for m in self.metadata for lab in m["labels"]})
        col = {lab: j for j, lab in enumerate(table)}
        has = np.zeros((self.info.count, len(table)), dtype=bool)
        for i, m in enumerate(self.metadata):
            has[i, [col[lab] for lab in m["labels"]]] = True
        return table, has

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        names = sorted({name for m in self.metadata for name in m.get("facets", {})})
        out = {}
        for name in names:
            values = sorted({m["facets"][name] for m in self.metadata if name in m.get("facets", {})})
            at = {v: j for j, v in enumerate(values)}
            rows = [at.get(m.get("facets", {}).get(name, ""), -1) for m in self.metadata]
            out[name] = (values, np.asarray(rows, dtype=np.int32))
        return out

    def thumbnail(self, row: int) -> bytes:
        path = self.dir / self.metadata[row]["thumbnail"]
        if not path.is_file():
            raise MedmirError(f"{path}: missing")
        return path.read_bytes()
