"""Top-k by dot product: exact in memory-bounded blocks (never an N x N matrix) with a stable tie-break, and for
large collections the k-nearest-neighbour graph by an inverted-file index (faiss IVF-Flat, inner product) whose
recall against exact is tuned and then measured on held-out rows at index time.

Ranking rule shared with `medmir search` and the browser: higher score first; equal scores by lower row index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Measured (benchmarks/neighbors.py, docs/PERFORMANCE.md): exact costs N^2 but only seconds up to here on 2 cores,
# cheap next to embedding that many images; above it the approximate graph is several times faster.
EXACT_MAX_ROWS = 20_000
TARGET_RECALL = 0.99
# nprobe is raised until recall on TUNE_ROWS rows reaches the target plus this margin, so that the recall then
# measured on RECALL_ROWS other rows (the figure a bundle records) meets the target despite sampling noise
TUNE_MARGIN = 0.005
TUNE_ROWS = 500
RECALL_ROWS = 1000
# beyond this share of the lists probed the approximate search costs about what exact does: fall back to exact
MAX_PROBE_SHARE = 0.25
SEARCH_BLOCK = 4096


@dataclass(frozen=True)
class NeighborGraph:
    """ids [N, k] int64 best first, self excluded; scores [N, k] float32 (the dot products of those pairs);
    report: how they were computed, and their recall@k against exact (recorded in index_info.json), measured on
    the rows `checked`."""

    ids: np.ndarray
    scores: np.ndarray
    report: dict[str, Any]
    checked: np.ndarray


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


def top_k_rows(block: np.ndarray, k: int, *, chunk: int = 128) -> np.ndarray:
    """`top_k` of every row of a 2-D array at once (ids [m, k]); rows whose k-th score is tied outside the chosen
    k fall back to `top_k`, so the tie-break (lower index first) is exact. Wide rows are first cut down to the
    chunks of `chunk` columns that can hold a top-k score (`_candidate_chunks`)."""
    m, n = block.shape
    k = min(k, n)
    if k <= 0 or k == n:
        return np.stack([top_k(row, k) for row in block]) if m else np.empty((0, max(k, 0)), np.int64)
    if m and n >= 8 * k * chunk:
        vals, cols = _candidate_chunks(block, k, chunk)
        return np.take_along_axis(cols, top_k_rows(vals, k, chunk=vals.shape[1]), axis=1)
    part = np.argpartition(block, n - k, axis=1)[:, n - k :]
    vals = np.take_along_axis(block, part, axis=1)
    kth = vals.min(axis=1, keepdims=True)
    out = np.take_along_axis(part, np.lexsort((part, -vals), axis=1), axis=1).astype(np.int64)
    tied_outside = (block == kth).sum(axis=1) != (vals == kth).sum(axis=1)
    for r in np.flatnonzero(tied_outside):
        out[r] = top_k(block[r], k)
    return out


def _candidate_chunks(block: np.ndarray, k: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, their columns) of the chunks whose maximum reaches the k-th largest chunk maximum, plus the ragged
    tail: every score >= the row's k-th best is among them, since k chunks hold a score at least that high. Columns
    stay ascending where it matters (chunks kept in order, padding chunks hold only lower scores), so ties still
    break by lower index; about 10x faster than partitioning the whole row."""
    m, n = block.shape
    full = n // chunk * chunk
    chunks = block[:, :full].reshape(m, -1, chunk)
    peak = chunks.max(axis=2)
    kth = np.partition(peak, peak.shape[1] - k, axis=1)[:, -k]
    keep = peak >= kth[:, None]
    picked = np.argsort(~keep, axis=1, kind="stable")[:, : keep.sum(axis=1).max()]
    vals = np.take_along_axis(chunks, picked[:, :, None], axis=1).reshape(m, -1)
    cols = (picked[:, :, None] * chunk + np.arange(chunk)).reshape(m, -1)
    tail = np.broadcast_to(np.arange(full, n), (m, n - full))
    return np.concatenate([vals, block[:, full:]], axis=1), np.concatenate([cols, tail], axis=1)


def exact_rows(
    emb: np.ndarray,
    rows: np.ndarray,
    k: int,
    *,
    budget_bytes: int = 256 << 20,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact neighbours (self excluded) of the given rows against all rows: (ids [len(rows), k], scores)."""
    n = emb.shape[0]
    ids = np.empty((len(rows), k), dtype=np.int64)
    scores = np.empty((len(rows), k), dtype=np.float32)
    step = block_rows(n, budget_bytes)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        block = emb[chunk] @ emb.T
        block[np.arange(len(chunk)), chunk] = -np.inf
        best = top_k_rows(block, k)
        ids[start : start + len(chunk)] = best
        scores[start : start + len(chunk)] = np.take_along_axis(block, best, axis=1)
        if progress:
            progress(len(chunk))
    return ids, scores


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row's true neighbours that `ids` found (recall@k, k = truth's width)."""
    if truth.size == 0:
        return 1.0
    hits = sum(np.intersect1d(a, b, assume_unique=True).size for a, b in zip(ids, truth, strict=True))
    return hits / truth.size


def neighbor_graph(
    emb: np.ndarray,
    k: int,
    *,
    exact_max_rows: int = EXACT_MAX_ROWS,
    seed: int = 0,
    budget_bytes: int = 256 << 20,
    progress: Callable[[int], None] | None = None,
) -> NeighborGraph:
    """For every row, the k most similar other rows: exact up to `exact_max_rows` rows, else approximate
    (`ivf_graph`) when that reaches the target recall, exact otherwise. Deterministic for a given seed."""
    n = emb.shape[0]
    k = min(k, max(n - 1, 0))
    x = np.ascontiguousarray(emb, dtype=np.float32)
    report: dict[str, Any] = {"method": "exact", "recall": 1.0, "recall_rows": n}
    if n > exact_max_rows and k > 0:
        graph, tuning = ivf_graph(x, k, seed=seed, budget_bytes=budget_bytes, progress=progress)
        if graph is not None:
            return graph
        report["approximate_rejected"] = tuning
    ids, scores = exact_rows(x, np.arange(n), k, budget_bytes=budget_bytes, progress=progress)
    return NeighborGraph(ids, scores, report, np.arange(n))


def nearest_neighbors(
    emb: np.ndarray, k: int, *, budget_bytes: int = 256 << 20, progress: Callable[[int], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For every row, the k most similar other rows (self excluded): (ids [N, k] int64, scores [N, k] float32)."""
    graph = neighbor_graph(emb, k, budget_bytes=budget_bytes, progress=progress)
    return graph.ids, graph.scores


def ivf_graph(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    budget_bytes: int = 256 << 20,
    progress: Callable[[int], None] | None = None,
) -> tuple[NeighborGraph | None, dict[str, Any]]:
    """faiss IVF-Flat (inner product): nprobe doubled until recall@k on tuning rows (computed exactly) reaches the
    target plus a margin, then every row searched and recall measured on other held-out rows. (graph, tuning);
    graph None when the target needs more than MAX_PROBE_SHARE of the lists: the data has no structure to exploit
    (random vectors) and exact costs about the same."""
    import faiss  # only above EXACT_MAX_ROWS: smaller collections never load it

    n = x.shape[0]
    tune_n = min(TUNE_ROWS, n // 3)
    held_out = np.random.default_rng(seed).choice(n, size=min(n, tune_n + RECALL_ROWS), replace=False)
    tune, check = np.sort(held_out[:tune_n]), np.sort(held_out[tune_n:])
    truth, _ = exact_rows(x, np.concatenate([tune, check]), k, budget_bytes=budget_bytes)
    index = train_ivf(x, seed)
    tuning = {"library": f"faiss {faiss.__version__} IndexIVFFlat, inner product", "nlist": index.nlist}
    tuning |= tune_nprobe(index, x, tune, truth[:tune_n], k)
    if tuning["nprobe"] is None:
        return None, tuning
    index.nprobe = tuning["nprobe"]
    ids, scores = _search_all(index, x, k, progress)
    report = {
        "method": "approximate",
        **tuning,
        "seed": seed,
        "target_recall": TARGET_RECALL,
        "recall": round(recall(ids[check], truth[tune_n:]), 5),
        "recall_rows": len(check),
    }
    return NeighborGraph(ids, scores, report, check), tuning


def train_ivf(x: np.ndarray, seed: int) -> Any:
    import faiss  # as ivf_graph: only where an approximate graph is built

    n, dim = x.shape
    nlist = max(1, int(4 * math.sqrt(n)))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    # k-means on a seeded sample of 16 rows per list, 5 rounds: on 70,000 MiniLM rows, recall at every nprobe was
    # within 0.001 of 64 rows and 10 rounds, in a ninth of the time; the lower bound on rows per list only
    # silences faiss's warning about small samples
    cp = index.cp
    cp.niter, cp.max_points_per_centroid, cp.min_points_per_centroid, cp.seed = 5, 16, 1, seed
    index.train(x)
    index.add(x)
    return index


def tune_nprobe(index: Any, x: np.ndarray, rows: np.ndarray, truth: np.ndarray, k: int) -> dict[str, Any]:
    """The smallest power-of-two nprobe whose recall@k on `rows` reaches TARGET_RECALL + TUNE_MARGIN (None if none
    up to MAX_PROBE_SHARE of the lists), with the recall of every nprobe tried."""
    tried: dict[str, float] = {}
    nprobe = 1
    while nprobe <= max(1, MAX_PROBE_SHARE * index.nlist):
        index.nprobe = nprobe
        tried[str(nprobe)] = round(recall(search(index, x, rows, k)[0], truth), 5)
        if tried[str(nprobe)] >= TARGET_RECALL + TUNE_MARGIN:
            return {"nprobe": nprobe, "tune_rows": len(rows), "tune_recall": tried}
        nprobe *= 2
    return {"nprobe": None, "tune_rows": len(rows), "tune_recall": tried}


def search(index: Any, x: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Search k + 1 (the row itself comes back too), drop the row itself, re-rank by the ranking rule; rows with
    fewer than k found (tiny lists) are filled in exactly."""
    dist, found = index.search(x[rows], k + 1)
    keep = (found != rows[:, None]) & (found >= 0)
    first = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    ids, scores = np.take_along_axis(found, first, axis=1), np.take_along_axis(dist, first, axis=1)
    order = np.lexsort((ids, -scores), axis=1)
    ids, scores = np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)
    short = np.flatnonzero(keep.sum(axis=1) < k)
    if short.size:
        ids[short], scores[short] = exact_rows(x, rows[short], k)
    return ids.astype(np.int64), scores.astype(np.float32)


def _search_all(
    index: Any, x: np.ndarray, k: int, progress: Callable[[int], None] | None
) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    # queries in list order: neighbouring queries probe the same lists, which then stay in cache
    _, lists = index.quantizer.search(x, 1)
    order = np.argsort(lists[:, 0], kind="stable")
    ids = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, SEARCH_BLOCK):
        rows = order[start : start + SEARCH_BLOCK]
        ids[rows], scores[rows] = search(index, x, rows, k)
        if progress:
            progress(len(rows))
    return ids, scores
