"""Percentile bootstrap confidence intervals for means over queries."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from medmir.errors import MedmirError
from medmir.evaluate.metrics import NOT_AVERAGED

# Rows of the (n_boot x n) index matrix drawn at once: bounds memory to ~32 MB of int64 for any number of queries.
_DRAW_ELEMENTS = 1 << 22


def _index_blocks(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """The bootstrap draw matrix (n_boot resamples of n query indices, with replacement) in row blocks.

    The block size depends only on n, so the stream, and so every interval, is a function of (n, n_boot, seed).
    """
    rng = np.random.default_rng(seed)
    step = max(1, _DRAW_ELEMENTS // n)
    for start in range(0, n_boot, step):
        yield rng.integers(0, n, size=(min(step, n_boot - start), n))


def _check(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise MedmirError(f"{name}: bootstrap needs a non-empty 1-D array of per-query values; got {values.shape}")
    if not np.isfinite(values).all():
        raise MedmirError(f"{name}: per-query values contain NaN or inf")
    return values


def bootstrap_cis(
    per_query: dict[str, np.ndarray], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of the mean of every metric, resampling queries with replacement.

    One draw matrix is shared by all metrics, so the intervals come from the same resampled query sets (and stay
    comparable). Keys in NOT_AVERAGED (first_relevant_rank) are skipped. A metric whose values are all equal
    (including a single query) gets (value, value). Deterministic for a given seed.
    """
    if not 0.0 < level < 1.0:
        raise MedmirError(f"confidence level must be in (0, 1); got {level}")
    if n_boot < 1:
        raise MedmirError(f"n_boot must be at least 1; got {n_boot}")
    arrays = {name: _check(v, name) for name, v in per_query.items() if name not in NOT_AVERAGED}
    if not arrays:
        return {}
    sizes = {v.size for v in arrays.values()}
    if len(sizes) != 1:
        raise MedmirError(f"per-query arrays differ in length: {sorted(sizes)}")
    n = sizes.pop()
    out: dict[str, tuple[float, float]] = {}
    varying = {}
    for name, v in arrays.items():
        if np.all(v == v[0]):  # resampled means of equal values could drift by an ulp; report the value itself
            out[name] = (float(v[0]), float(v[0]))
        else:
            varying[name] = v
    if varying:
        means = {name: np.empty(n_boot) for name in varying}
        done = 0
        for idx in _index_blocks(n, n_boot, seed):
            for name, v in varying.items():
                means[name][done : done + idx.shape[0]] = v[idx].mean(axis=1)
            done += idx.shape[0]
        tail = (1.0 - level) / 2.0
        for name, m in means.items():
            lo, hi = np.quantile(m, [tail, 1.0 - tail])
            out[name] = (float(lo), float(hi))
    return {name: out[name] for name in arrays}


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of the mean of per-query `values`; (v, v) when all values equal v.

    Same draws as `bootstrap_cis` for the same seed, so the two agree.
    """
    return bootstrap_cis({"values": values}, n_boot=n_boot, seed=seed, level=level)["values"]
