"""Reading a version 2 bundle: int8 rows in shards, columnar metadata (rows built as asked for), neighbours and
thumbnails read alone out of their shard or pack (docs/FORMAT.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle import columns
from medmir.bundle.files import read_exact, read_int8_rows, read_json_file, read_neighbor_shards
from medmir.bundle.format import METADATA, THUMB_INDEX, neighbor_ids_shard, neighbor_scores_shard, thumb_pack
from medmir.bundle.info import BundleInfo
from medmir.core.errors import MedmirError


class ReaderV2:
    """What differs by version in medmir.bundle.read.Bundle, for version 2 (the twin of the web's CollectionV2)."""

    def __init__(self, bundle: Path, info: BundleInfo) -> None:
        self.dir, self.info = bundle, info
        self.metadata = columns.Rows(read_json_file(bundle / METADATA), info.count, str(bundle / METADATA))
        self.rows = read_int8_rows(bundle, info)  # what ranking uses
        self._embeddings: np.ndarray | None = None
        self._thumb_offsets: np.ndarray | None = None  # thumbs.idx, once read

    @property
    def embeddings(self) -> np.ndarray:
        """Dequantized when first asked for, for inspection only."""
        if self._embeddings is None:
            self._embeddings = self.rows.dequantize()
        return self._embeddings

    def scores(self, query: np.ndarray) -> np.ndarray:
        return self.rows.scores(query)

    def score_matrix(self, queries: np.ndarray) -> np.ndarray:
        return self.rows.scores_many(queries) if len(queries) else np.zeros((0, self.info.count), np.float32)

    def top_k_many(
        self, queries: np.ndarray, k: int, passes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.rows.top_k_many(queries, k, passes)

    def neighbors(self) -> dict[str, Any]:
        ids, scores = read_neighbor_shards(self.dir, self.info)
        return {"k": int(ids.shape[1]), "ids": ids.tolist(), "scores": scores.tolist()}

    def neighbors_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        k, per = self.info.neighbors_k, self.info.rows_per_shard
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

    def embedding(self, row: int) -> np.ndarray:
        r = self.rows
        return r.codes[row].astype(np.float32) * r.scales[row] + r.center

    def row_labels(self, row: int) -> list[str]:
        table = self.metadata.label_table
        return [table[j] for j in self.metadata.label_ids(row)]

    def label_matrix(self) -> tuple[list[str], np.ndarray]:
        return self.metadata.label_table, self.metadata.label_matrix()

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        return self.metadata.facet_columns()

    def thumbnail(self, row: int) -> bytes:
        index = self.dir / THUMB_INDEX
        if self._thumb_offsets is None:  # read once: a pass over every row reads it once, not once a row
            data = read_exact(index, self.info.count * 8, f"{self.info.count} x 2 uint32")
            self._thumb_offsets = np.frombuffer(data, dtype="<u4")
        start, length = int(self._thumb_offsets[2 * row]), int(self._thumb_offsets[2 * row + 1])
        path = self.dir / thumb_pack(row // self.info.thumbs_in_pack)
        if not path.is_file():
            raise MedmirError(f"{path}: missing")
        with path.open("rb") as f:
            f.seek(start)
            data = f.read(length)
        if len(data) != length:
            raise MedmirError(f"{path}: row {row}'s thumbnail ({start}+{length}) runs past the end; see {index}")
        return data
