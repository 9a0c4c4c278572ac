"""Reading a bundle: index_info first, then the files it vouches for, by the reader of its format version
(bundle/read_v1.py, bundle/read_v2.py); `Bundle` is what every caller holds, whichever the version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medmir.bundle.compact import Int8Rows
from medmir.bundle.files import read_info, read_json_file
from medmir.bundle.format import FALLBACK
from medmir.bundle.info import BundleInfo
from medmir.bundle.read_v1 import ReaderV1
from medmir.bundle.read_v2 import ReaderV2
from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError


class VersionReader(Protocol):
    """What one format version reads its own way (ReaderV1, ReaderV2)."""

    @property
    def metadata(self) -> Sequence[dict[str, Any]]: ...
    @property
    def rows(self) -> Int8Rows | None: ...
    @property
    def embeddings(self) -> np.ndarray: ...
    def scores(self, query: np.ndarray) -> np.ndarray: ...
    def score_matrix(self, queries: np.ndarray) -> np.ndarray: ...
    def top_k_many(
        self, queries: np.ndarray, k: int, passes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def neighbors(self) -> dict[str, Any]: ...
    def neighbors_of(self, row: int) -> tuple[np.ndarray, np.ndarray]: ...
    def embedding(self, row: int) -> np.ndarray: ...
    def row_labels(self, row: int) -> list[str]: ...
    def label_matrix(self) -> tuple[list[str], np.ndarray]: ...
    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]: ...
    def thumbnail(self, row: int) -> bytes: ...


READERS: dict[int, type[ReaderV1] | type[ReaderV2]] = {1: ReaderV1, 2: ReaderV2}


@dataclass
class Bundle:
    dir: Path
    info: BundleInfo
    reader: VersionReader

    @classmethod
    def open(cls, bundle: Path, *, verify: bool = True) -> Bundle:
        """Open a bundle; with `verify`, every check of `medmir verify` runs first."""
        if verify:
            verify_bundle(bundle)
        info = read_info(bundle)
        return cls(bundle, info, READERS[info.format_version](bundle, info))

    @property
    def count(self) -> int:
        return self.info.count

    @property
    def metadata(self) -> Sequence[dict[str, Any]]:
        """Version 1: metadata.json's entries; version 2: each row built as it is asked for (bundle/columns.py)."""
        return self.reader.metadata

    @property
    def rows(self) -> Int8Rows | None:
        """Version 2: the int8 rows ranking uses; version 1: None."""
        return self.reader.rows

    @property
    def embeddings(self) -> np.ndarray:
        """float32 [count, dim]: the rows (version 1: memory-mapped; version 2: dequantized when first asked for, for
        inspection only)."""
        return self.reader.embeddings

    def scores(self, query: np.ndarray) -> np.ndarray:
        """float32 [count]: the query's score against every row, computed as the browser computes it."""
        return self.reader.scores(query)

    def score_matrix(self, queries: np.ndarray) -> np.ndarray:
        """float32 [len(queries), count]."""
        return self.reader.score_matrix(queries)

    def top_k_many(
        self, queries: np.ndarray, k: int, passes: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each query's `k` best rows (ids [m, k'], scores [m, k'], best first, ties by lower row), scored as `scores`
        scores them; `passes` (bool [count]): the rows allowed (the others score -inf)."""
        return self.reader.top_k_many(queries, k, passes)

    def neighbors(self) -> dict[str, Any]:
        """{"k", "ids", "scores"} as lists (version 1's nearest_neighbors.json shape, for both versions)."""
        return self.reader.neighbors()

    def embedding(self, row: int) -> np.ndarray:
        """float32 [dim]: row `row` (version 2: dequantized from its int8 code)."""
        return self.reader.embedding(row)

    def row_labels(self, row: int) -> list[str]:
        """Row `row`'s labels (version 2: from the label column, without building the row)."""
        return self.reader.row_labels(row)

    def label_matrix(self) -> tuple[list[str], np.ndarray]:
        """(every label, sorted; bool [count, labels]: which row carries which), without building the rows."""
        table, has = self.reader.label_matrix()
        order = sorted(range(len(table)), key=table.__getitem__)
        return [table[j] for j in order], has[:, order]

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per facet (DICOM tags, docs/DICOM.md): (its values; int32 [count], each row's value index or -1)."""
        return self.reader.facet_columns()

    def neighbors_of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Row `row`'s precomputed neighbours: ids (int64 [k]) and scores (float32 [k]), read alone from its shard."""
        return self.reader.neighbors_of(row)

    def fallback(self) -> dict[str, Any]:
        return read_json_file(self.dir / FALLBACK)

    def thumbnail(self, row: int) -> bytes:
        """Row `row`'s WebP thumbnail: version 1's images/NAME.webp, or version 2's slice of its thumbnail pack."""
        if not 0 <= row < self.count:
            raise MedmirError(f"{self.dir}: no row {row} (count {self.count})")
        return self.reader.thumbnail(row)
