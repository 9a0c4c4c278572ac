"""Compact embeddings for large bundles: int8 rows with a per-row scale, and 1-bit sign codes for a coarse pass.

Both are derived from the float32 unit rows at index time; the browser and `medmir search` rank with them, so the
ranking the docs measure is the one users get.

- int8: row i is `center + codes[i] * scales[i]` (symmetric, scale = max |x - center| / 127): 1 byte a dimension,
  4x smaller than float32. A query scores `q . center + scales[i] * (codes[i] . q)` with the query in float32
  (asymmetric: only the rows are rounded). Centering matters: CLIP-like embeddings sit in a narrow cone around
  their mean, so the residuals are small and rounding them costs far less than rounding the rows.
- sign codes: bit j of row i is (x - center)_ij > 0 (`np.packbits`, most significant bit first): 1 bit a dimension, 32x
  smaller. A float query scores `sum_j q_j * (+1 or -1)` (asymmetric again), computed 8 dimensions at a time from
  a 256-entry table per byte. It finds candidates; int8 ranks them (`two_stage_top_k`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from medmir.bundle.neighbors import top_k, top_k_rows
from medmir.core.errors import MedmirError


@dataclass(frozen=True)
class Int8Rows:
    codes: np.ndarray  # int8 [n, d]
    scales: np.ndarray  # float32 [n]
    center: np.ndarray  # float32 [d]

    @classmethod
    def quantize(cls, emb: np.ndarray, *, centered: bool = True) -> Int8Rows:
        x = np.asarray(emb, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] == 0:
            raise MedmirError(f"embeddings must be [n >= 1, d], got shape {x.shape}")
        center = x.mean(axis=0, dtype=np.float64).astype(np.float32) if centered else np.zeros(x.shape[1], np.float32)
        residual = x - center
        peak = np.abs(residual).max(axis=1)
        scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes = np.clip(np.rint(residual / scales[:, None]), -127, 127).astype(np.int8)
        return cls(codes, scales, center)

    def scores(self, query: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 scores of `query` against all rows, or against `rows` (indices) only."""
        q = np.asarray(query, dtype=np.float32)
        if rows is None:
            return self.scores_many(q[None])[0]
        return (self.codes[rows].astype(np.float32) @ q) * self.scales[rows] + np.float32(self.center @ q)

    def scores_many(self, queries: np.ndarray, chunk: int | None = None) -> np.ndarray:
        """float32 [len(queries), n]: `scores` for each query (`_blocks`)."""
        q = np.asarray(queries, dtype=np.float32)
        out = np.empty((q.shape[0], self.codes.shape[0]), dtype=np.float32)
        for a, block in self._blocks(q, chunk):
            out[:, a : a + block.shape[1]] = block
        return out

    def top_k_many(self, queries: np.ndarray, k: int, passes: np.ndarray | None = None,
                   chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The `k` best rows of each query (ids int64 [m, k'], scores float32 [m, k'], k' = min(k, n); best first,
        ties by lower row), scored as `scores_many` scores them but cut to each chunk's top k as it is scored, so the
        [m, n] matrix never exists and a batch can be large enough to widen each row once for many queries.
        `passes`: bool [n], rows left out score -inf."""
        q = np.asarray(queries, dtype=np.float32)
        ids, vals = [], []
        for a, block in self._blocks(q, chunk):
            if passes is not None:
                block[:, ~passes[a : a + block.shape[1]]] = -np.inf
            # a chunk's exact top k (lower row first on ties) holds every row of it that is in the overall top k
            best = top_k_rows(block, k)
            ids.append(best + a)
            vals.append(np.take_along_axis(block, best, axis=1))
        cand_ids, cand_vals = np.concatenate(ids, axis=1), np.concatenate(vals, axis=1)
        keep = min(k, self.codes.shape[0])
        order = np.stack([np.lexsort((i, -v))[:keep] for i, v in zip(cand_ids, cand_vals, strict=True)])
        return np.take_along_axis(cand_ids, order, axis=1), np.take_along_axis(cand_vals, order, axis=1)

    def _blocks(self, q: np.ndarray, chunk: int | None) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 [len(q), rows] scores) a chunk of rows at a time, each chunk widened to float32 once
        for all the queries (widening every row for every query cost more than the products). Chunks: small for a
        few queries (the widened chunk stays in cache: 13 ms instead of 105 for one query at 112,120 rows), large
        for a batch."""
        n = self.codes.shape[0]
        chunk = chunk or (2048 if q.shape[0] < 16 else 16_384)
        offset = (q @ self.center).astype(np.float32)[:, None]
        for a in range(0, n, chunk):
            b = min(a + chunk, n)
            yield a, (q @ self.codes[a:b].astype(np.float32).T) * self.scales[a:b] + offset

    def dequantize(self) -> np.ndarray:
        return self.codes.astype(np.float32) * self.scales[:, None] + self.center


def sign_codes(emb: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """uint8 [n, ceil(d / 8)]: the sign bit of every dimension (of the residual from `center`), packed."""
    x = np.asarray(emb, dtype=np.float32)
    return np.packbits((x - center if center is not None else x) > 0, axis=1)


def sign_table(query: np.ndarray) -> np.ndarray:
    """float32 [bytes, 256]: for byte position j and byte value b, the query's sum over those 8 dimensions of
    +q (bit set) or -q (bit clear). A row's coarse score is the sum of its bytes' entries."""
    q = np.asarray(query, dtype=np.float32)
    pad = (-len(q)) % 8
    q = np.concatenate([q, np.zeros(pad, np.float32)]).reshape(-1, 8)  # [bytes, 8], bit 7 first as packbits
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float32)  # [256, 8]
    return (q @ (2 * bits - 1).T).astype(np.float32)


def sign_scores(query: np.ndarray, codes: np.ndarray) -> np.ndarray:
    table = sign_table(query)
    return table[np.arange(codes.shape[1]), codes].sum(axis=1, dtype=np.float32)


def two_stage_top_k(
    query: np.ndarray, codes: np.ndarray, rows: Int8Rows, k: int, candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `candidates` best rows by sign code, re-ranked with int8: (ids [k], int8 scores [k]), best first,
    ties by lower row (the bundle's ranking rule)."""
    coarse = top_k(sign_scores(query, codes), max(candidates, k))
    coarse.sort()  # ascending row order, so top_k's tie-break by position is the tie-break by row
    fine = rows.scores(query, coarse)
    best = top_k(fine, k)
    return coarse[best], fine[best]


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of |found_i & exact_i| / k (rows of ids, same k)."""
    if found.shape != exact.shape:
        raise MedmirError(f"recall: shapes differ ({found.shape} vs {exact.shape})")
    hits = [len(np.intersect1d(f, e)) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits) / exact.shape[1]) if len(hits) else 1.0
