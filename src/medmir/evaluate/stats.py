"""Percentile bootstrap confidence intervals for means over queries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from medmir.core.errors import MedmirError
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


def _interval(draws: np.ndarray, values: np.ndarray, level: float) -> tuple[float, float]:
    if np.all(values == values[0]):  # as bootstrap_cis: equal values give (value, value), no ulp drift
        return float(values[0]), float(values[0])
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(draws, [tail, 1.0 - tail])
    return float(lo), float(hi)


def stratified_macro_cis(
    groups: Mapping[str, Mapping[str, np.ndarray]], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[dict[str, tuple[float, float]], dict[str, dict[str, tuple[float, float]]]]:
    """Percentile bootstrap intervals of a macro average (the unweighted mean over groups of each group's mean).

    `groups` maps a group (a label) to its per-query values by metric name, every group with the same metric names.
    Each resample draws every group's queries with replacement within the group (stratified: each group keeps its
    size, as the macro average gives each group the same weight), so one draw yields every group's mean and their
    macro average. Returns (macro interval by metric, {group: interval by metric}) from the same draws. Groups are
    drawn in the order given, from one generator: deterministic for a given seed.
    """
    if not 0.0 < level < 1.0:
        raise MedmirError(f"confidence level must be in (0, 1); got {level}")
    if n_boot < 1:
        raise MedmirError(f"n_boot must be at least 1; got {n_boot}")
    if not groups:
        return {}, {}
    names = list(next(iter(groups.values())))
    rng = np.random.default_rng(seed)
    macro = {name: np.zeros(n_boot) for name in names}
    per_group: dict[str, dict[str, tuple[float, float]]] = {}
    for group, metrics in groups.items():
        if list(metrics) != names:
            raise MedmirError(f"group {group!r}: metrics {list(metrics)} differ from {names}")
        arrays = {name: _check(v, f"{group} {name}") for name, v in metrics.items()}
        sizes = {v.size for v in arrays.values()}
        if len(sizes) != 1:
            raise MedmirError(f"group {group!r}: per-query arrays differ in length: {sorted(sizes)}")
        n = sizes.pop()
        means = {name: np.empty(n_boot) for name in names}
        step = max(1, _DRAW_ELEMENTS // n)
        for start in range(0, n_boot, step):
            idx = rng.integers(0, n, size=(min(step, n_boot - start), n))
            for name, v in arrays.items():
                means[name][start : start + idx.shape[0]] = v[idx].mean(axis=1)
        per_group[group] = {}
        for name, v in arrays.items():
            if np.all(v == v[0]):
                means[name][:] = v[0]
            per_group[group][name] = _interval(means[name], v, level)
            macro[name] += means[name]
    out = {}
    for name in names:
        draws = macro[name] / len(groups)
        out[name] = _interval(draws, draws, level)
    return out, per_group
