"""Chance baselines: what each metric scores when the ranking is a uniformly random permutation.

On dense multi-label data random ranking already scores high (a label held by half the images gives hit@1 = 0.5),
so every reported metric is shown beside its chance value. For a query with R relevant images among N, with
K = min(k, N) and H_m = 1 + 1/2 + ... + 1/m, the exact expectations are:

- hit@k       = 1 - C(N-R, K) / C(N, K)
- precision@k = R * K / (N * k)                      (= R / N when k <= N)
- recall@k    = K / N                                (R > 0)
- ap          = (H_N + (R-1) * (N - H_N) / (N-1)) / N
- map@k       = R / (N * min(R, k)) * (H_K + (R-1) * (K - H_K) / (N-1))
- mrr         = sum_{i=1..N-R+1} P(first relevant at i) / i,  P(first at i) = C(N-i, R-1) / C(N, R)
- ndcg@k      = (R / N) * D(K) / D(min(R, k)),  D(j) = sum_{i=1..j} 1 / log2(i + 1)
- r_precision = R / N

All are 0 when R = 0. The AP forms follow from E[AP] = (1/R) sum_i P(rel at i) E[P(i) | rel at i] with
P(rel at i) = R/N and E[P(i) | rel at i] = (1 + (i-1)(R-1)/(N-1)) / i (the other i-1 slots above hold each of the
other R-1 relevant images with probability (i-1)/(N-1)); when N = 1 the (R-1)/(N-1) factor is taken as 0.

nDCG@k and R-precision follow from linearity of expectation: every rank holds a relevant image with probability
R/N, so E[DCG@k] = (R/N) D(K), while IDCG@k = D(min(R, k)) is fixed by R; the top R holds R * R/N relevant images
on average, divided by R. Label-match precision@k of the CBIR protocol (image -> image, one label at a time) is
precision@k with R = the eligible images carrying the label: `expected_precision_at_k`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medmir.core.errors import MedmirError
from medmir.evaluate.metrics import KS, check_k, dcg_discounts, metric_names, metrics_from_ranked


def _log_survival(n: int, r: int) -> np.ndarray:
    """log P(no relevant image in the top i) for i = 0..n; -inf once i > n - r."""
    out = np.full(n + 1, -np.inf)
    out[0] = 0.0
    m = n - r  # irrelevant images
    if m > 0:
        i = np.arange(m, dtype=np.float64)
        # C(N-R, i) / C(N, i) as a running product of (N-R-j)/(N-j) = 1 - R/(N-j): log1p keeps small R/N exact,
        # where log-gamma differences of numbers near 1e6 would lose ~1e-10 absolute.
        out[1 : m + 1] = np.cumsum(np.log1p(-r / (n - i)))
    return out


def expected_precision_at_k(n: np.ndarray | int, r: np.ndarray | int, k: int) -> np.ndarray:
    """Exact E[precision@k] under a uniformly random ranking of n images of which r are relevant, elementwise:
    r * min(k, n) / (n * k); 0 where n = 0. (r / n when k <= n: each of the top k is relevant with probability r/n.)"""
    k = check_k(k)
    n = np.asarray(n, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    n, r = np.broadcast_arrays(n, r)
    out = np.zeros(n.shape, dtype=np.float64)
    np.divide(r * np.minimum(k, n), n * k, out=out, where=n > 0)
    return out


def _expected_one(n: int, r: int, ks: Sequence[int], harmonic: np.ndarray) -> dict[str, float]:
    names = metric_names(ks, include_not_averaged=False)
    if r == 0:
        return dict.fromkeys(names, 0.0)
    log_s = _log_survival(n, r)
    # The other R-1 relevant images sit in any given one of the other N-1 slots with probability (R-1)/(N-1).
    share = (r - 1) / (n - 1) if n > 1 else 0.0
    out: dict[str, float] = {}
    for k in ks:
        kk = min(k, n)
        out[f"hit@{k}"] = float(-np.expm1(log_s[kk]))  # expm1: hit@1 = R/N stays exact for R << N
    for k in ks:
        out[f"precision@{k}"] = float(expected_precision_at_k(n, r, k))
    for k in ks:
        out[f"recall@{k}"] = min(k, n) / n
    for k in ks:
        kk = min(k, n)
        out[f"map@{k}"] = r / (n * min(r, k)) * (harmonic[kk] + share * (kk - harmonic[kk]))
    discount = np.concatenate(([0.0], np.cumsum(dcg_discounts(max(ks))))) if ks else np.zeros(1)
    for k in ks:
        out[f"ndcg@{k}"] = float(r / n * discount[min(k, n)] / discount[min(r, k)])
    out["ap"] = (harmonic[n] + share * (n - harmonic[n])) / n
    # P(first relevant at i) = S(i-1) - S(i) = S(i-1) * R / (N - i + 1), S = survival above.
    i = np.arange(1, n - r + 2, dtype=np.float64)
    out["mrr"] = float(np.sum(np.exp(log_s[: n - r + 1]) * r / ((n - i + 1) * i)))
    out["r_precision"] = r / n
    return out


def expected_random(n: int, r: np.ndarray, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Exact expected value of every averaged metric per query under a uniformly random ranking of n images.

    `r` [Q] holds each query's number of relevant images (0..n). Returns the keys of `per_query_metrics` except
    first_relevant_rank, each a float64 array [Q]. The value depends only on (n, r), so it is computed once per
    distinct r: O(n) per distinct r, fine for n = 112,120.
    """
    n = int(n)
    ks = [check_k(k) for k in ks]
    r = np.asarray(r)
    if r.ndim != 1:
        raise MedmirError(f"r must be 1-D (relevant images per query); got shape {r.shape}")
    if n < 1:
        raise MedmirError(f"n must be at least 1; got {n}")
    if r.size and (np.any(r < 0) or np.any(r > n) or np.any(r != np.round(r))):
        raise MedmirError(f"relevant counts must be integers in [0, {n}]")
    r = r.astype(np.int64)
    harmonic = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, n + 1, dtype=np.float64))))
    names = metric_names(ks, include_not_averaged=False)
    out = {name: np.zeros(r.size, dtype=np.float64) for name in names}
    for value in np.unique(r):
        one = _expected_one(n, int(value), ks, harmonic)
        where = r == value
        for name in names:
            out[name][where] = one[name]
    return out


def simulated_random_stats(
    relevance: np.ndarray, ks: Sequence[int] = KS, shuffles: int = 1000, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Monte-Carlo (mean, standard error of the mean) per query of every metric under random rankings.

    Each shuffle draws an independent permutation per query (`Generator.permuted` along the images) and scores it
    with `metrics_from_ranked`, so this checks `expected_random` against the very code that scores real rankings.
    """
    relevance = np.asarray(relevance, dtype=bool)
    if relevance.ndim != 2 or relevance.shape[0] < 1 or relevance.shape[1] < 1:
        raise MedmirError(f"relevance must be [queries, images], at least 1 x 1; got {relevance.shape}")
    if shuffles < 2:
        raise MedmirError(f"need at least 2 shuffles; got {shuffles}")
    rng = np.random.default_rng(seed)
    names = metric_names(ks, include_not_averaged=False)
    total = {name: np.zeros(relevance.shape[0]) for name in names}
    total_sq = {name: np.zeros(relevance.shape[0]) for name in names}
    for _ in range(shuffles):
        # Permuting a relevance row is the same as ranking its images in random order.
        per_query = metrics_from_ranked(rng.permuted(relevance, axis=1), ks)
        for name in names:
            total[name] += per_query[name]
            total_sq[name] += per_query[name] ** 2
    means = {name: total[name] / shuffles for name in names}
    stderr = {}
    for name in names:
        var = np.maximum(total_sq[name] / shuffles - means[name] ** 2, 0.0) * shuffles / (shuffles - 1)
        stderr[name] = np.sqrt(var / shuffles)
    return means, stderr
