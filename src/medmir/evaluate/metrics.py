"""Retrieval metrics over a score matrix: pure NumPy, vectorised over queries, no I/O.

Inputs: `scores` [Q, N] (one row per text query, one column per image) and `relevance` [Q, N] (bool: image j is
relevant to query q). Ranking rule, as in `medmir search` and the browser: higher score first; equal scores are
ordered by lower image index.

Definitions (per query; R = number of relevant images, rank = 1-based position in the ranking, rel(i) = 1 when the
image at rank i is relevant, P(i) = (relevant images in ranks 1..i) / i):

- hit@k: 1 if at least one relevant image is in the top k, else 0. (The tool we replace called this "Recall@k".)
- precision@k: (relevant images in the top k) / k. The denominator stays k even when k > N.
- recall@k: (relevant images in the top k) / R.
- ap: average precision over the FULL ranking, sum_i rel(i) * P(i) / R.
- map@k: the per-query term of mAP@k, sum_{i <= k} rel(i) * P(i) / min(R, k). Dividing by min(R, k) makes a perfect
  top k score 1 even when R > k; trec_eval's map_cut_k and ranx's map@k divide by R instead.
- ndcg@k: normalised discounted cumulative gain with binary gains, DCG@k / IDCG@k, where
  DCG@k = sum_{i <= k} rel(i) / log2(i + 1) and IDCG@k = sum_{i <= min(R, k)} 1 / log2(i + 1) (the DCG of a perfect
  ranking); trec_eval's ndcg_cut_k.
- mrr: reciprocal rank, 1 / (rank of the first relevant image).
- r_precision: precision at rank R, (relevant images in the top R) / R; trec_eval's Rprec. Equals recall@R.
- first_relevant_rank: rank of the first relevant image (an int; 0 when there is none). Not averaged.

Label-match precision (the CBIR protocol of Denner et al., image -> image): `label_precision_at_k` reads, from the
labels of a ranking's top images, precision@k for each label of the query separately (relevant = carries that label),
and `macro_by_label` averages those over each label's queries, then over labels.

Every query counts: a query with R = 0 scores 0 on every metric and is NOT dropped from the means (trec_eval and ranx
drop such queries from theirs). When k > N the top k is the whole ranking: hit@k and recall@k use k = N.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from medmir.core.errors import MedmirError

KS: tuple[int, ...] = (1, 5, 10, 20)
AT_K_FAMILIES: tuple[str, ...] = ("hit", "precision", "recall", "map", "ndcg")
FULL_RANKING: tuple[str, ...] = ("ap", "mrr", "r_precision")
NOT_AVERAGED: tuple[str, ...] = ("first_relevant_rank",)
# Queries are scored in row blocks of about this many (query, image) cells, so temporaries stay ~100 MB at
# N = 112,120 whatever Q is.
_BLOCK_ELEMENTS = 1 << 22

_FAMILY_DOCS = {
    "hit": "share of queries with at least one relevant image in the top {k} (the old tool's 'Recall@{k}')",
    "precision": "relevant images in the top {k} divided by {k}, averaged over queries",
    "recall": "relevant images in the top {k} divided by all relevant images of the query, averaged over queries",
    "map": "mean over queries of the precision at each relevant rank <= {k}, summed and divided by "
    "min(relevant images, {k})",
    "ap": "mean average precision over the full ranking (precision at every relevant rank, divided by the number "
    "of relevant images)",
    "ndcg": "normalised discounted cumulative gain of the top {k} (binary relevance, log2 discount): the top {k}'s "
    "sum of 1 / log2(rank + 1) over relevant ranks, divided by that of a perfect ranking, averaged over queries",
    "mrr": "mean reciprocal rank of the first relevant image (0 when none)",
    "r_precision": "precision at rank R, R = the query's number of relevant images (relevant images in the top R "
    "divided by R), averaged over queries",
    "first_relevant_rank": "rank of the first relevant image (1 = top; 0 when the query has no relevant image)",
}


def metric_names(ks: Iterable[int] = KS, *, include_not_averaged: bool = True) -> list[str]:
    """Keys of `per_query_metrics` in report order: hit, precision, recall, map, ndcg at each k, then ap, mrr,
    r_precision (and ranks)."""
    ks = tuple(ks)
    names = [f"{family}@{k}" for family in AT_K_FAMILIES for k in ks] + list(FULL_RANKING)
    return names + list(NOT_AVERAGED) if include_not_averaged else names


def describe_metric(name: str) -> str:
    """One-line human description of a metric key such as "hit@10" or "ap"."""
    family, _, k = name.partition("@")
    if family not in _FAMILY_DOCS or bool(k) != (family in AT_K_FAMILIES):
        raise KeyError(name)
    return _FAMILY_DOCS[family].format(k=k)


METRIC_NAMES: tuple[str, ...] = tuple(metric_names(KS))
METRIC_DOCS: dict[str, str] = {name: describe_metric(name) for name in METRIC_NAMES}


def check_inputs(scores: np.ndarray, relevance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (scores, relevance) pair and return them as (float array, bool array); raises MedmirError."""
    scores = np.asarray(scores)
    relevance = np.asarray(relevance)
    if scores.ndim != 2 or relevance.ndim != 2:
        raise MedmirError(
            f"scores and relevance must be 2-D [queries, images]; got {scores.ndim}-D and {relevance.ndim}-D"
        )
    if scores.shape != relevance.shape:
        raise MedmirError(f"scores {scores.shape} and relevance {relevance.shape} differ in shape")
    q, n = scores.shape
    if q < 1 or n < 1:
        raise MedmirError(f"nothing to evaluate: {q} queries x {n} images (need at least 1 of each)")
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise MedmirError(f"scores must be numeric; got dtype {scores.dtype}")
    bad = ~np.isfinite(scores)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        first = int(rows[0])
        kind = "NaN" if np.isnan(scores[first]).any() else "inf"
        more = f" (and {rows.size - 1} more rows)" if rows.size > 1 else ""
        raise MedmirError(
            f"scores row {first} (query {first}) contains {kind} at image {int(np.flatnonzero(bad[first])[0])}{more}"
        )
    if relevance.dtype != np.bool_:
        if not (np.issubdtype(relevance.dtype, np.integer) or np.issubdtype(relevance.dtype, np.floating)):
            raise MedmirError(f"relevance must be bool or 0/1; got dtype {relevance.dtype}")
        if not np.isin(relevance, (0, 1)).all():
            raise MedmirError("relevance must hold only 0/1 (binary relevance); graded labels are not supported")
        relevance = relevance.astype(bool)
    return scores, relevance


def rank_order(scores: np.ndarray) -> np.ndarray:
    """Per-query image indices in ranking order [Q, N] int64: score descending, equal scores by lower index."""
    # A stable sort of the negated scores keeps equal scores in index order. Negation is exact for floats, and
    # -0.0 == 0.0 compares equal, so signed zeros tie like any other equal pair.
    return np.argsort(-np.asarray(scores), axis=1, kind="stable").astype(np.int64, copy=False)


def ranked_relevance(scores: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Relevance [Q, N] bool reordered into each query's ranking: column i is the image at rank i + 1."""
    scores, relevance = check_inputs(scores, relevance)
    return np.take_along_axis(relevance, rank_order(scores), axis=1)


def _as_ranked(ranked: np.ndarray) -> np.ndarray:
    ranked = np.asarray(ranked, dtype=bool)
    if ranked.ndim != 2 or min(ranked.shape) < 1:
        raise MedmirError(f"ranked relevance must be [queries, images], at least 1 x 1; got {ranked.shape}")
    return ranked


def check_k(k: int) -> int:
    """k as an int; MedmirError unless it is a positive integer."""
    if int(k) != k or k < 1:
        raise MedmirError(f"k must be a positive integer; got {k!r}")
    return int(k)


def _hits_in_top(ranked: np.ndarray, k: int) -> np.ndarray:
    return ranked[:, : min(check_k(k), ranked.shape[1])].sum(axis=1)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, 0 where den == 0 (queries without relevant images)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def hit_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """hit@k [Q] float64: 1 when a relevant image is in the top min(k, N), else 0."""
    return (_hits_in_top(_as_ranked(ranked), k) > 0).astype(np.float64)


def precision_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """precision@k [Q] float64: relevant images in the top k divided by k (still k when k > N)."""
    return _hits_in_top(_as_ranked(ranked), k) / float(check_k(k))


def recall_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """recall@k [Q] float64: relevant images in the top min(k, N) divided by R; 0 when R = 0."""
    ranked = _as_ranked(ranked)
    return _safe_ratio(_hits_in_top(ranked, k), ranked.sum(axis=1))


class _RelevantPrecisions(NamedTuple):
    """Every relevant (query, rank) pair with the precision at that rank, computed once and shared across k."""

    rows: np.ndarray  # query of each relevant item
    ranks: np.ndarray  # its 1-based rank
    precision: np.ndarray  # P(rank): (its position among the query's relevant items) / rank
    n_relevant: np.ndarray  # R per query [Q]


def _relevant_precisions(ranked: np.ndarray) -> _RelevantPrecisions:
    # Only relevant positions contribute to AP, so work on those (memory ~ number of relevant items, not Q x N
    # float temporaries). nonzero is row-major, so within a query the relevant items come in rank order.
    rows, cols = np.nonzero(ranked)
    n_relevant = ranked.sum(axis=1)
    starts = np.cumsum(n_relevant) - n_relevant
    nth = np.arange(rows.size, dtype=np.int64) - starts[rows] + 1
    ranks = cols.astype(np.int64) + 1
    return _RelevantPrecisions(rows, ranks, nth / ranks, n_relevant)


def _ap(rp: _RelevantPrecisions, n_queries: int, k: int | None) -> np.ndarray:
    if k is None:
        mask, den = slice(None), rp.n_relevant
    else:
        mask, den = rp.ranks <= k, np.minimum(rp.n_relevant, k)
    total = np.bincount(rp.rows[mask], weights=rp.precision[mask], minlength=n_queries)
    return _safe_ratio(total, den)


def average_precision(ranked: np.ndarray) -> np.ndarray:
    """AP [Q] float64 over the full ranking: sum of P(rank) at every relevant rank, divided by R; 0 when R = 0."""
    ranked = _as_ranked(ranked)
    return _ap(_relevant_precisions(ranked), ranked.shape[0], None)


def ap_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """mAP@k's per-query term [Q] float64: sum of P(rank) over relevant ranks <= k, divided by min(R, k).

    0 when R = 0. The min(R, k) normalisation lets a query with R > k reach 1 with a perfect top k; trec_eval's
    map_cut_k and ranx's map@k divide by R instead, so they are lower whenever R > k.
    """
    ranked = _as_ranked(ranked)
    return _ap(_relevant_precisions(ranked), ranked.shape[0], check_k(k))


def first_relevant_rank(ranked: np.ndarray) -> np.ndarray:
    """1-based rank [Q] int64 of the first relevant image; 0 when the query has none."""
    ranked = _as_ranked(ranked)
    first = np.argmax(ranked, axis=1).astype(np.int64) + 1
    return np.where(ranked.any(axis=1), first, 0)


def reciprocal_rank(ranked: np.ndarray) -> np.ndarray:
    """RR [Q] float64: 1 / rank of the first relevant image; 0 when none."""
    return _safe_ratio(np.ones(np.asarray(ranked).shape[0]), first_relevant_rank(ranked))


def dcg_discounts(k: int) -> np.ndarray:
    """The DCG discount 1 / log2(i + 1) of ranks i = 1..k [k] float64."""
    return 1.0 / np.log2(np.arange(2, check_k(k) + 2, dtype=np.float64))


def _ideal_dcg(k: int) -> np.ndarray:
    """IDCG with j relevant images, j = 0..k [k + 1]: the sum of the first j discounts."""
    return np.concatenate(([0.0], np.cumsum(dcg_discounts(k))))


def _ndcg(ranked: np.ndarray, k: int, n_relevant: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    kk = min(k, ranked.shape[1])
    dcg = ranked[:, :kk].astype(np.float64) @ dcg_discounts(k)[:kk]
    return _safe_ratio(dcg, ideal[np.minimum(n_relevant, k)])


def ndcg_at_k(ranked: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k [Q] float64, binary gains: sum over relevant ranks i <= k of 1 / log2(i + 1), divided by the same sum
    over ranks 1..min(R, k) (a perfect ranking); 0 when R = 0. trec_eval's ndcg_cut_k."""
    ranked = _as_ranked(ranked)
    k = check_k(k)
    return _ndcg(ranked, k, ranked.sum(axis=1), _ideal_dcg(k))


def _r_precision(rp: _RelevantPrecisions, n_queries: int) -> np.ndarray:
    within = rp.ranks <= rp.n_relevant[rp.rows]
    return _safe_ratio(np.bincount(rp.rows[within], minlength=n_queries), rp.n_relevant)


def r_precision(ranked: np.ndarray) -> np.ndarray:
    """R-precision [Q] float64: relevant images in the top R divided by R; 0 when R = 0. trec_eval's Rprec."""
    ranked = _as_ranked(ranked)
    return _r_precision(_relevant_precisions(ranked), ranked.shape[0])


def label_precision_at_k(carries: np.ndarray, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """Label-match precision@k for every (query, label): `precision@k` -> [Q, L] float64.

    `carries` [Q, T, L] bool: the image at rank t + 1 of query q's ranking carries label l (False for a rank that
    holds no candidate). precision@k of (q, l) = the images carrying l among q's top k, divided by k. T must reach
    max(ks), or be the whole ranking when that is shorter: then the top k is the whole ranking and the denominator
    stays k, as for `precision_at_k`.
    """
    carries = np.asarray(carries, dtype=bool)
    if carries.ndim != 3:
        raise MedmirError(f"carries must be [queries, ranks, labels]; got shape {carries.shape}")
    ks = [check_k(k) for k in ks]
    q, t, n_labels = carries.shape
    cum = np.cumsum(carries, axis=1, dtype=np.int64)
    out = {}
    for k in ks:
        hits = cum[:, min(k, t) - 1, :] if t else np.zeros((q, n_labels), dtype=np.int64)
        out[f"precision@{k}"] = hits / float(k)
    return out


def macro_by_label(values: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-label means and their macro average.

    `values` [Q, L] (a metric of query q for label l) and `members` [Q, L] bool (query q carries label l, so it is
    one of l's queries). Returns the mean of each label over its queries [L] (NaN for a label without queries) and
    the unweighted mean of those over the labels that have queries (NaN when none has).
    """
    values = np.asarray(values, dtype=np.float64)
    members = np.asarray(members, dtype=bool)
    if values.ndim != 2 or values.shape != members.shape:
        raise MedmirError(f"values {values.shape} and members {members.shape} must be the same [queries, labels]")
    counts = members.sum(axis=0)
    sums = np.where(members, values, 0.0).sum(axis=0)
    per_label = np.full(values.shape[1], np.nan)
    np.divide(sums, counts, out=per_label, where=counts > 0)
    present = counts > 0
    return per_label, float(per_label[present].mean()) if present.any() else float("nan")


def _row_blocks(q: int, n: int) -> list[slice]:
    step = max(1, _BLOCK_ELEMENTS // n)
    return [slice(start, min(q, start + step)) for start in range(0, q, step)]


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return parts[0] if len(parts) == 1 else {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def metrics_from_ranked(ranked: np.ndarray, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Every metric of `metric_names(ks)` per query, from ranked relevance [Q, N] (see the module docstring)."""
    ranked = _as_ranked(ranked)
    ks = [check_k(k) for k in ks]
    return _concat([_metrics_block(ranked[rows], ks) for rows in _row_blocks(*ranked.shape)])


def _metrics_block(ranked: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    q = ranked.shape[0]
    rp = _relevant_precisions(ranked)
    cum_at = {k: _hits_in_top(ranked, k) for k in ks}
    ideal = _ideal_dcg(max(ks)) if ks else np.zeros(1)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"hit@{k}"] = (cum_at[k] > 0).astype(np.float64)
    for k in ks:
        out[f"precision@{k}"] = cum_at[k] / float(k)
    for k in ks:
        out[f"recall@{k}"] = _safe_ratio(cum_at[k], rp.n_relevant)
    for k in ks:
        out[f"map@{k}"] = _ap(rp, q, k)
    for k in ks:
        out[f"ndcg@{k}"] = _ndcg(ranked, k, rp.n_relevant, ideal)
    out["ap"] = _ap(rp, q, None)
    frr = first_relevant_rank(ranked)
    out["mrr"] = _safe_ratio(np.ones(q), frr)
    out["r_precision"] = _r_precision(rp, q)
    out["first_relevant_rank"] = frr
    return out


def per_query_metrics(scores: np.ndarray, relevance: np.ndarray, ks: Sequence[int] = KS) -> dict[str, np.ndarray]:
    """Per-query metrics for a score matrix [Q, N] and relevance [Q, N]: keys `metric_names(ks)`, arrays [Q]."""
    return metrics_and_top(scores, relevance, ks, top=0)[0]


def metrics_and_top(
    scores: np.ndarray, relevance: np.ndarray, ks: Sequence[int] = KS, *, top: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One ranking of each query, read twice: `per_query_metrics`, and the image indices at ranks 1..top of that same
    ranking [Q, min(top, N)] int64 (so more metrics can be read off the top without sorting again)."""
    scores, relevance = check_inputs(scores, relevance)
    ks = [check_k(k) for k in ks]
    if int(top) != top or top < 0:
        raise MedmirError(f"top must be a non-negative integer; got {top!r}")
    parts, tops = [], []
    for rows in _row_blocks(*scores.shape):
        order = rank_order(scores[rows])
        parts.append(_metrics_block(np.take_along_axis(relevance[rows], order, axis=1), ks))
        tops.append(order[:, : int(top)])
    return _concat(parts), np.concatenate(tops)


def aggregate(per_query: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of each metric over ALL queries (R = 0 queries count as 0); first_relevant_rank is left out."""
    return {name: float(np.mean(values)) for name, values in per_query.items() if name not in NOT_AVERAGED}
