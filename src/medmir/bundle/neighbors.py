"""Exact top-k by dot product, in memory-bounded blocks (never an N x N matrix), with a stable tie-break.

Ranking rule shared with `medmir search` and the browser: higher score first; equal scores by lower row index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores of a 1-D array, best first, ties by lower index; O(N + k log k)."""
    n = scores.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        # argpartition may cut inside a run of equal scores; widen to every index tied with the k-th score
        kth = scores[part].min()
        part = np.union1d(part[scores[part] > kth], np.flatnonzero(scores == kth))
    else:
        part = np.arange(n)
    order = np.lexsort((part, -scores[part]))
    return part[order][:k].astype(np.int64)


def block_rows(n: int, budget_bytes: int = 256 << 20) -> int:
    return max(1, min(n, budget_bytes // max(1, 4 * n)))


def top_k_rows(block: np.ndarray, k: int) -> np.ndarray:
    """`top_k` of every row of a 2-D array at once (ids [m, k]); rows whose k-th score is tied outside the chosen
    k fall back to `top_k`, so the tie-break (lower index first) is exact."""
    m, n = block.shape
    k = min(k, n)
    if k <= 0 or k == n:
        return np.stack([top_k(row, k) for row in block]) if m else np.empty((0, max(k, 0)), np.int64)
    part = np.argpartition(block, n - k, axis=1)[:, n - k :]
    vals = np.take_along_axis(block, part, axis=1)
    kth = vals.min(axis=1, keepdims=True)
    out = np.take_along_axis(part, np.lexsort((part, -vals), axis=1), axis=1).astype(np.int64)
    tied_outside = (block == kth).sum(axis=1) != (vals == kth).sum(axis=1)
    for r in np.flatnonzero(tied_outside):
        out[r] = top_k(block[r], k)
    return out


def nearest_neighbors(
    emb: np.ndarray, k: int, *, budget_bytes: int = 256 << 20, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For every row, the k most similar other rows (self excluded): (ids [N, k] int64, scores [N, k] float32)."""
    n = emb.shape[0]
    k = min(k, max(n - 1, 0))
    ids = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    step = block_rows(n, budget_bytes)
    all_rows = np.asarray(emb, dtype=np.float32)
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = all_rows[start:stop] @ all_rows.T
        rows = np.arange(stop - start)
        block[rows, start + rows] = -np.inf
        best = top_k_rows(block, k)
        ids[start:stop] = best
        scores[start:stop] = np.take_along_axis(block, best, axis=1)
        if progress:
            progress(stop - start)
    return ids, scores
