"""Metric core of `medmir evaluate`: hand-computed cases, a naive reference, trec_eval, chance baselines, bootstrap."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import pytrec_eval

from medmir.core.errors import MedmirError
from medmir.evaluate import metrics as metrics_module
from medmir.evaluate.baselines import expected_random, simulated_random_stats
from medmir.evaluate.metrics import (
    KS,
    METRIC_DOCS,
    METRIC_NAMES,
    aggregate,
    ap_at_k,
    average_precision,
    check_inputs,
    first_relevant_rank,
    hit_at_k,
    metric_names,
    metrics_and_top,
    metrics_from_ranked,
    ndcg_at_k,
    per_query_metrics,
    precision_at_k,
    r_precision,
    rank_order,
    ranked_relevance,
    recall_at_k,
    reciprocal_rank,
)
from medmir.evaluate.stats import bootstrap_ci, bootstrap_cis

HAND_KS = (1, 3, 5, 10)
LOG2_3 = math.log2(3)  # the discount of rank 2 is 1 / log2(3); rank 1: 1 / log2(2) = 1; rank 3: 1 / log2(4) = 1/2


def _ranked(*rows: list[int]) -> np.ndarray:
    return np.array(rows, dtype=bool)


def _identity_scores(q: int, n: int) -> np.ndarray:
    """Strictly decreasing scores: the ranking is the index order, so relevance rows are already ranked."""
    return np.tile(np.linspace(1.0, 0.0, n, dtype=np.float32), (q, 1))


# ---------------------------------------------------------------------------------------------- hand-computed cases


def test_hand_case_first_relevant_at_top() -> None:
    # ranked relevance 1 0 1 0 0: R = 2, relevant at ranks 1 and 3, P(1) = 1/1, P(3) = 2/3
    m = per_query_metrics(_identity_scores(1, 5), _ranked([1, 0, 1, 0, 0]), HAND_KS)
    expected = {
        "hit@1": 1.0,  # rank 1 is relevant
        "hit@3": 1.0,
        "hit@5": 1.0,
        "hit@10": 1.0,
        "precision@1": 1.0,  # 1 relevant / 1
        "precision@3": 2 / 3,  # ranks 1, 3 / 3
        "precision@5": 0.4,  # 2 / 5
        "precision@10": 0.2,  # k > N = 5: still 2 / 10
        "recall@1": 0.5,  # 1 of R = 2
        "recall@3": 1.0,  # 2 of 2
        "recall@5": 1.0,
        "recall@10": 1.0,
        "map@1": 1.0,  # P(1) / min(R=2, k=1) = 1 / 1
        "map@3": (1 + 2 / 3) / 2,  # (P(1) + P(3)) / min(2, 3)
        "map@5": (1 + 2 / 3) / 2,
        "map@10": (1 + 2 / 3) / 2,
        "ap": (1 + 2 / 3) / 2,  # = 5/6
        "mrr": 1.0,  # first relevant at rank 1
        "ndcg@1": 1.0,  # DCG@1 = 1 / log2(2) = 1, IDCG@1 = 1
        "ndcg@3": 1.5 / (1 + 1 / LOG2_3),  # DCG@3 = 1 + 1/log2(4); IDCG@3 = 1 + 1/log2(3) (R = 2 relevant on top)
        "ndcg@5": 1.5 / (1 + 1 / LOG2_3),
        "ndcg@10": 1.5 / (1 + 1 / LOG2_3),
        "r_precision": 0.5,  # top R = 2: ranks 1, 2 -> 1 relevant / 2
    }
    for name, value in expected.items():
        assert m[name][0] == pytest.approx(value, abs=1e-12), name
    assert m["first_relevant_rank"].tolist() == [1]
    assert set(m) == set(expected) | {"first_relevant_rank"}


def test_hand_case_first_relevant_at_rank_3() -> None:
    # ranked relevance 0 0 1 1 0: R = 2, relevant at ranks 3 and 4, P(3) = 1/3, P(4) = 2/4
    m = per_query_metrics(_identity_scores(1, 5), _ranked([0, 0, 1, 1, 0]), HAND_KS)
    expected = {
        "hit@1": 0.0,
        "hit@3": 1.0,  # rank 3 is within the top 3
        "hit@5": 1.0,
        "precision@1": 0.0,
        "precision@3": 1 / 3,  # 1 relevant / 3
        "precision@5": 2 / 5,
        "recall@1": 0.0,
        "recall@3": 0.5,  # 1 of 2
        "recall@5": 1.0,
        "map@1": 0.0,
        "map@3": (1 / 3) / 2,  # P(3) / min(R=2, 3)
        "map@5": (1 / 3 + 2 / 4) / 2,  # (P(3) + P(4)) / min(2, 5) = 5/12
        "ap": (1 / 3 + 2 / 4) / 2,
        "mrr": 1 / 3,
        "ndcg@1": 0.0,
        "ndcg@3": 0.5 / (1 + 1 / LOG2_3),  # DCG@3 = 1/log2(4) (rank 3); IDCG@3 = 1 + 1/log2(3)
        "ndcg@5": (0.5 + 1 / math.log2(5)) / (1 + 1 / LOG2_3),  # ranks 3 and 4
        "r_precision": 0.0,  # top R = 2 holds no relevant image
    }
    for name, value in expected.items():
        assert m[name][0] == pytest.approx(value, abs=1e-12), name
    assert m["first_relevant_rank"].tolist() == [3]


def test_ndcg_and_r_precision_by_hand() -> None:
    # ranked 0 1 1 1, R = 3: R-precision = relevant in the top 3 / 3 = 2/3
    ranked = _ranked([0, 1, 1, 1], [1, 1, 1, 0], [0, 0, 0, 0])
    assert r_precision(ranked).tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    # nDCG@2 of 0 1 1 1: DCG = 1/log2(3); IDCG@2 = 1 + 1/log2(3) (min(R, k) = 2 relevant on top)
    assert ndcg_at_k(ranked, 2)[0] == pytest.approx((1 / LOG2_3) / (1 + 1 / LOG2_3), abs=1e-12)
    # k > N: DCG over the whole ranking, IDCG over min(R, k) = R = 3 ranks
    ideal = 1 + 1 / LOG2_3 + 1 / 2
    assert ndcg_at_k(ranked, 10)[0] == pytest.approx((1 / LOG2_3 + 1 / 2 + 1 / math.log2(5)) / ideal, abs=1e-12)
    assert ndcg_at_k(ranked, 10)[1] == 1.0  # perfect ranking
    assert ndcg_at_k(ranked, 10)[2] == 0.0  # R = 0
    # R = 1: R-precision is hit@1, nDCG@k is 1 / log2(rank + 1) within the top k
    one = _ranked([0, 0, 1, 0])
    assert r_precision(one).tolist() == [0.0]
    assert ndcg_at_k(one, 3).tolist() == [0.5] and ndcg_at_k(one, 2).tolist() == [0.0]


def test_map_at_k_divides_by_min_r_k() -> None:
    # ranked 1 1 1 0 0, R = 3, k = 2: (P(1) + P(2)) / min(3, 2) = (1 + 1) / 2 = 1; trec's map_cut_2 would give 2/3
    assert ap_at_k(_ranked([1, 1, 1, 0, 0]), 2).tolist() == [1.0]
    # ranked 0 1 0 0 1, R = 2, k = 2: P(2) = 1/2, divided by min(2, 2) -> 1/4
    assert ap_at_k(_ranked([0, 1, 0, 0, 1]), 2).tolist() == [0.25]


def test_query_without_relevant_scores_zero_and_counts_in_mean() -> None:
    ranked = _ranked([0, 0, 0, 0], [1, 1, 0, 0])  # no relevant image; a perfect query (R = 2, top 2 relevant)
    m = metrics_from_ranked(ranked, HAND_KS)
    for name, values in m.items():
        assert values[0] == 0, name  # every metric 0 (first_relevant_rank: 0 = none)
    agg = aggregate(m)
    assert "first_relevant_rank" not in agg
    assert agg["hit@1"] == 0.5  # (0 + 1) / 2: the empty query is not dropped
    assert agg["ap"] == 0.5  # (0 + 1) / 2
    assert agg["mrr"] == 0.5
    assert agg["recall@3"] == 0.5  # (0 + 2/2) / 2
    assert agg["map@1"] == 0.5
    assert agg["precision@1"] == 0.5
    assert set(agg) == set(metric_names(HAND_KS, include_not_averaged=False))


def test_ties_go_to_lower_index() -> None:
    scores = np.array([[0.5, 0.9, 0.9, 0.1]], dtype=np.float32)
    assert rank_order(scores).tolist() == [[1, 2, 0, 3]]
    # only image 2 relevant: tied with image 1 at 0.9, so it ranks 2nd, not 1st
    rel = np.array([[False, False, True, False]])
    assert ranked_relevance(scores, rel).tolist() == [[False, True, False, False]]
    m = per_query_metrics(scores, rel, (1, 2))
    assert m["hit@1"].tolist() == [0.0]
    assert m["mrr"].tolist() == [0.5]
    assert m["first_relevant_rank"].tolist() == [2]
    assert m["ap"].tolist() == [0.5]  # P(2) = 1/2, R = 1
    # all-equal scores keep index order; signed zeros tie too
    assert rank_order(np.zeros((1, 4), np.float32)).tolist() == [[0, 1, 2, 3]]
    assert rank_order(np.array([[0.0, -0.0, 0.0]], np.float32)).tolist() == [[0, 1, 2]]


def test_k_larger_than_n() -> None:
    # N = 3, ranked 0 1 1, k = 10
    ranked = _ranked([0, 1, 1])
    assert hit_at_k(ranked, 10).tolist() == [1.0]  # top 10 = all 3
    assert precision_at_k(ranked, 10).tolist() == [0.2]  # 2 / 10: denominator stays k
    assert recall_at_k(ranked, 10).tolist() == [1.0]  # 2 / 2
    assert ap_at_k(ranked, 10)[0] == pytest.approx((1 / 2 + 2 / 3) / 2)  # (P(2) + P(3)) / min(2, 10)
    assert ap_at_k(ranked, 10)[0] == average_precision(ranked)[0]


def test_individual_functions_match_per_query_metrics() -> None:
    ranked = _ranked([0, 1, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 1])
    m = metrics_from_ranked(ranked, (2, 4))
    for k in (2, 4):
        np.testing.assert_array_equal(m[f"hit@{k}"], hit_at_k(ranked, k))
        np.testing.assert_array_equal(m[f"precision@{k}"], precision_at_k(ranked, k))
        np.testing.assert_array_equal(m[f"recall@{k}"], recall_at_k(ranked, k))
        np.testing.assert_array_equal(m[f"map@{k}"], ap_at_k(ranked, k))
        np.testing.assert_allclose(m[f"ndcg@{k}"], ndcg_at_k(ranked, k), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(m["ap"], average_precision(ranked))
    np.testing.assert_array_equal(m["mrr"], reciprocal_rank(ranked))
    np.testing.assert_array_equal(m["r_precision"], r_precision(ranked))
    assert first_relevant_rank(ranked).tolist() == [2, 0, 1]
    assert reciprocal_rank(ranked).tolist() == [0.5, 0.0, 1.0]
    assert m["first_relevant_rank"].dtype.kind == "i"
    assert all(v.dtype == np.float64 for name, v in m.items() if name != "first_relevant_rank")


def test_names_and_docs() -> None:
    assert list(METRIC_NAMES) == list(per_query_metrics(_identity_scores(1, 3), _ranked([1, 0, 0])))
    assert METRIC_NAMES[:2] == ("hit@1", "hit@5") and "ap" in METRIC_NAMES and "mrr" in METRIC_NAMES
    assert set(METRIC_DOCS) == set(METRIC_NAMES)
    assert all(doc.strip() for doc in METRIC_DOCS.values())
    assert "Recall@10" in METRIC_DOCS["hit@10"]  # the renamed metric says what the old tool called it
    assert KS == (1, 5, 10, 20)


# ---------------------------------------------------------------------------------------------- naive reference


def _naive(scores: np.ndarray, relevance: np.ndarray, ks: tuple[int, ...]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in metric_names(ks)}
    for s, rel in zip(scores.tolist(), relevance.tolist(), strict=True):
        n = len(s)
        order = sorted(range(n), key=lambda j: (-s[j], j))
        ranked = [bool(rel[j]) for j in order]
        r = sum(ranked)
        precisions = []  # (rank, precision at rank) of each relevant item
        seen = 0
        for i, is_rel in enumerate(ranked, start=1):
            if is_rel:
                seen += 1
                precisions.append((i, seen / i))
        for k in ks:
            top = sum(ranked[:k])
            out[f"hit@{k}"].append(1.0 if top > 0 else 0.0)
            out[f"precision@{k}"].append(top / k)
            out[f"recall@{k}"].append(top / r if r else 0.0)
            out[f"map@{k}"].append(sum(p for i, p in precisions if i <= k) / min(r, k) if r else 0.0)
            dcg = sum(1 / math.log2(i + 1) for i, _ in precisions if i <= k)
            idcg = sum(1 / math.log2(i + 1) for i in range(1, min(r, k) + 1))
            out[f"ndcg@{k}"].append(dcg / idcg if r else 0.0)
        out["ap"].append(sum(p for _, p in precisions) / r if r else 0.0)
        first = precisions[0][0] if precisions else 0
        out["first_relevant_rank"].append(first)
        out["mrr"].append(1 / first if first else 0.0)
        out["r_precision"].append(sum(ranked[:r]) / r if r else 0.0)
    return out


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    q = int(rng.integers(1, 7))
    n = int(rng.integers(1, 40))
    density = float(rng.choice([0.02, 0.1, 0.3, 0.7, 1.0]))
    relevance = rng.random((q, n)) < density
    relevance[rng.random(q) < 0.25] = False  # some queries with no relevant image
    # rounding to 1 decimal makes ties common
    scores = np.round(rng.normal(size=(q, n)), 1).astype(np.float32)
    return scores, relevance


def test_vectorised_matches_naive_reference() -> None:
    rng = np.random.default_rng(1234)
    ks = (1, 3, 5, 10, 20, 50)  # 50 > every N here
    saw_tie = saw_empty = False
    for _ in range(50):
        scores, relevance = _random_case(rng)
        saw_tie |= any(len(set(row)) < len(row) for row in scores.tolist())
        saw_empty |= bool((~relevance.any(axis=1)).any())
        got = per_query_metrics(scores, relevance, ks)
        want = _naive(scores, relevance, ks)
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
    assert saw_tie and saw_empty


def test_row_blocks_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(99)
    scores, relevance = rng.random((13, 9), dtype=np.float32), rng.random((13, 9)) < 0.3
    whole = per_query_metrics(scores, relevance)
    monkeypatch.setattr(metrics_module, "_BLOCK_ELEMENTS", 20)  # 2 queries per block, last block short
    blocked = per_query_metrics(scores, relevance)
    blocked_ranked = metrics_from_ranked(ranked_relevance(scores, relevance))
    for name in whole:
        np.testing.assert_array_equal(blocked[name], whole[name], err_msg=name)
        np.testing.assert_array_equal(blocked_ranked[name], whole[name], err_msg=name)


def test_metrics_and_top_read_one_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=(11, 7)), 1).astype(np.float32)  # ties: the top follows the ranking rule
    relevance = rng.random((11, 7)) < 0.4
    monkeypatch.setattr(metrics_module, "_BLOCK_ELEMENTS", 15)  # 2 queries per block
    got, top = metrics_and_top(scores, relevance, (1, 3), top=4)
    np.testing.assert_array_equal(top, rank_order(scores)[:, :4])
    want = per_query_metrics(scores, relevance, (1, 3))
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert metrics_and_top(scores, relevance, (1,), top=50)[1].shape == (11, 7)  # top > N: the whole ranking
    assert metrics_and_top(scores, relevance, (1,), top=0)[1].shape == (11, 0)
    with pytest.raises(MedmirError, match="top"):
        metrics_and_top(scores, relevance, (1,), top=-1)


def test_large_n_runs_without_quadratic_memory() -> None:
    rng = np.random.default_rng(0)
    n = 112_120
    scores = rng.random((3, n), dtype=np.float32)
    relevance = rng.random((3, n)) < np.array([[0.0], [1e-4], [0.5]])
    m = per_query_metrics(scores, relevance)
    assert m["ap"][0] == 0 and 0 < m["ap"][2] < 1
    assert all(np.isfinite(v).all() for v in m.values())


# ---------------------------------------------------------------------------------------------- trec_eval cross-check


def test_matches_trec_eval() -> None:
    # pytrec_eval (trec_eval 9.x) conventions, and how this test bridges them:
    # - trec_eval evaluates only queries with a relevant document (its means drop the others); we keep R = 0 queries
    #   as zeros, so the comparison is per query over R >= 1.
    # - trec_eval breaks score ties by document name, not input order, so scores here are continuous and tie-free.
    # - P_k divides by k even when fewer than k documents exist, as ours; success_k is our hit@k.
    # - map_cut_k divides by R where our map@k divides by min(R, k): compared as map_cut_k = map@k * min(R, k) / R.
    # - ndcg_cut_k (gain = relevance level, 1 here; discount log2(rank + 1); ideal = the qrels sorted) and Rprec are
    #   ours as they are.
    rng = np.random.default_rng(7)
    ks = (1, 5, 10, 20)
    cut = ",".join(map(str, ks))
    measures = {"map", "recip_rank", "Rprec", f"P.{cut}", f"recall.{cut}", f"success.{cut}", f"map_cut.{cut}",
                f"ndcg_cut.{cut}"}  # fmt: skip
    compared = 0
    for _ in range(30):
        q, n = int(rng.integers(1, 6)), int(rng.integers(2, 60))
        scores = rng.random((q, n)).astype(np.float32)
        while any(len(set(row)) < n for row in scores.tolist()):
            scores = rng.random((q, n)).astype(np.float32)
        relevance = rng.random((q, n)) < rng.uniform(0.02, 0.8)
        relevance[:, int(rng.integers(n))] = True  # R >= 1 everywhere
        relevance[rng.random(q) < 0.2] = False  # ...except a few R = 0 rows, skipped below
        ours = per_query_metrics(scores, relevance, ks)
        r = relevance.sum(axis=1)
        qrels = {f"q{i}": {f"d{j}": int(relevance[i, j]) for j in range(n)} for i in range(q) if r[i] > 0}
        run = {f"q{i}": {f"d{j}": float(scores[i, j]) for j in range(n)} for i in range(q) if r[i] > 0}
        theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        for i in np.flatnonzero(r > 0):
            t = theirs[f"q{i}"]
            assert ours["ap"][i] == pytest.approx(t["map"], abs=1e-9)
            assert ours["mrr"][i] == pytest.approx(t["recip_rank"], abs=1e-9)
            assert ours["r_precision"][i] == pytest.approx(t["Rprec"], abs=1e-9)
            for k in ks:
                assert ours[f"ndcg@{k}"][i] == pytest.approx(t[f"ndcg_cut_{k}"], abs=1e-9)
                assert ours[f"precision@{k}"][i] == pytest.approx(t[f"P_{k}"], abs=1e-9)
                assert ours[f"recall@{k}"][i] == pytest.approx(t[f"recall_{k}"], abs=1e-9)
                assert ours[f"hit@{k}"][i] == pytest.approx(t[f"success_{k}"], abs=1e-9)
                assert ours[f"map@{k}"][i] * min(r[i], k) / r[i] == pytest.approx(t[f"map_cut_{k}"], abs=1e-9)
            compared += 1
    assert compared > 40


# ---------------------------------------------------------------------------------------------- chance baselines

BASELINE_KS = (1, 2, 3, 5, 10)


def test_expected_random_is_exact_over_all_arrangements() -> None:
    # Every placement of R relevant items among N slots is equally likely under a random permutation, so the mean
    # over all C(N, R) placements is the exact expectation.
    for n in range(1, 8):
        for r in range(n + 1):
            rows = np.zeros((math.comb(n, r), n), dtype=bool)
            for row, pos in enumerate(itertools.combinations(range(n), r)):
                rows[row, list(pos)] = True
            exhaustive = metrics_from_ranked(rows, BASELINE_KS)
            exact = expected_random(n, np.array([r]), BASELINE_KS)
            assert list(exact) == metric_names(BASELINE_KS, include_not_averaged=False)
            for name, value in exact.items():
                assert value[0] == pytest.approx(exhaustive[name].mean(), abs=1e-12), (n, r, name)


@pytest.mark.parametrize(
    ("n", "rs"),
    [(1, [0, 1]), (2, [0, 1, 2]), (9, [0, 1, 4, 9]), (40, [1, 3, 20, 39]), (120, [2, 60])],
)
def test_expected_random_matches_simulation(n: int, rs: list[int]) -> None:
    rng = np.random.default_rng(n)
    relevance = np.zeros((len(rs), n), dtype=bool)
    for row, r in enumerate(rs):
        relevance[row, rng.choice(n, size=r, replace=False)] = True
    means, stderr = simulated_random_stats(relevance, BASELINE_KS, shuffles=2000, seed=3)
    exact = expected_random(n, relevance.sum(axis=1), BASELINE_KS)
    for name in exact:
        # 4 standard errors, plus a floor of 3/shuffles: an event rarer than that (hit@10 misses when R = N/2) may
        # never occur in the sample, which then reports a standard error of 0
        assert np.all(np.abs(means[name] - exact[name]) <= 4 * stderr[name] + 3 / 2000), name


def test_simulated_random_degenerate_values() -> None:
    # Every ranking of 1 relevant image among 1, or of none, scores the same: the mean is exact, the error 0.
    means, stderr = simulated_random_stats(np.array([[True], [False]]), (1,), shuffles=5, seed=0)
    assert means["ap"].tolist() == [1.0, 0.0]
    assert means["mrr"].tolist() == [1.0, 0.0]
    assert stderr["ap"].tolist() == [0.0, 0.0]
    # 1 relevant among 2: rank 1 or 2, so each shuffle's RR is 1 or 1/2 and the mean lies strictly between
    means, _ = simulated_random_stats(np.array([[True, False]]), (1,), shuffles=200, seed=1)
    assert 0.5 < means["mrr"][0] < 1.0
    hits = means["hit@1"][0] * 200  # hit@1 counts the shuffles that put the relevant image first
    assert 0 < hits < 200 and hits == pytest.approx(round(hits))


def test_expected_random_closed_forms() -> None:
    e = expected_random(2, np.array([1]), (1, 2))
    assert e["mrr"][0] == pytest.approx(0.75)  # rank 1 or 2 with prob 1/2: (1 + 1/2) / 2
    assert e["ap"][0] == pytest.approx(0.75)  # R = 1: AP = RR
    assert e["hit@1"][0] == pytest.approx(0.5)
    assert e["precision@1"][0] == pytest.approx(0.5)
    assert e["map@1"][0] == pytest.approx(0.5)
    assert e["recall@2"][0] == 1.0

    e = expected_random(1, np.array([1, 0]), (1, 5))
    assert e["ap"].tolist() == [1.0, 0.0]  # N = 1: no 0/0
    assert e["precision@5"].tolist() == [0.2, 0.0]  # k > N: 1 relevant / 5

    n, r, k = 100, 7, 10
    e = expected_random(n, np.array([r]), (k,))
    assert e[f"hit@{k}"][0] == pytest.approx(1 - math.comb(n - r, k) / math.comb(n, k), rel=1e-12)
    assert e[f"precision@{k}"][0] == pytest.approx(r / n)
    assert e[f"recall@{k}"][0] == pytest.approx(k / n)
    rr = sum(math.comb(n - i, r - 1) / math.comb(n, r) / i for i in range(1, n - r + 2))
    assert e["mrr"][0] == pytest.approx(rr, rel=1e-12)
    h = sum(1 / i for i in range(1, n + 1))
    assert e["ap"][0] == pytest.approx((h + (r - 1) * (n - h) / (n - 1)) / n, rel=1e-12)
    # nDCG@k: E[DCG@k] = sum_{i <= k} (R/N) / log2(i + 1) over the fixed IDCG@k = sum_{i <= min(R, k)} 1 / log2(i + 1)
    dcg = sum((r / n) / math.log2(i + 1) for i in range(1, k + 1))
    assert e[f"ndcg@{k}"][0] == pytest.approx(dcg / sum(1 / math.log2(i + 1) for i in range(1, r + 1)), rel=1e-12)
    assert e["r_precision"][0] == pytest.approx(r / n)  # E[relevant in the top R] / R = (R * R/N) / R

    # R = N: every ranking is perfect; R = 0: all zeros
    e = expected_random(6, np.array([6, 0]), (1, 5))
    for name in (n for n in metric_names((1, 5), include_not_averaged=False) if not n.startswith("recall@")):
        assert e[name].tolist() == [1.0, 0.0], name


def test_expected_random_full_size() -> None:
    n = 112_120
    r = np.array([0, 1, 5_000, 56_060, n - 1, n])
    e = expected_random(n, r)
    for name, values in e.items():
        assert np.all(np.isfinite(values)) and np.all((values >= 0) & (values <= 1 + 1e-12)), name
    np.testing.assert_allclose(e["hit@1"], r / n, rtol=1e-12)  # hit@1 = P(rank 1 relevant) = R/N, even for R = 1
    assert e["ap"][-1] == pytest.approx(1.0) and e["mrr"][-1] == pytest.approx(1.0)
    assert e["ap"][1] == pytest.approx(e["mrr"][1], rel=1e-12)  # R = 1: AP = RR = H_N / N
    assert e["hit@10"][2] == pytest.approx(1 - math.comb(n - 5000, 10) / math.comb(n, 10), rel=1e-12)


def test_expected_random_rejects_bad_counts() -> None:
    with pytest.raises(MedmirError):
        expected_random(5, np.array([6]))
    with pytest.raises(MedmirError):
        expected_random(5, np.array([-1]))
    with pytest.raises(MedmirError):
        expected_random(0, np.array([0]))


# ---------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_deterministic_and_seed_dependent() -> None:
    values = np.random.default_rng(0).random(200)
    a = bootstrap_ci(values, seed=5)
    assert a == bootstrap_ci(values, seed=5)
    assert a != bootstrap_ci(values, seed=6)
    lo, hi = a
    assert lo < values.mean() < hi
    # roughly mean +/- 1.96 standard errors for n = 200
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15)
    wide = bootstrap_ci(values, seed=5, level=0.99)
    assert wide[0] < lo and wide[1] > hi


def test_bootstrap_cis_share_one_draw_matrix() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random(150) < 0.4).astype(float)
    cis = bootstrap_cis({"a": a, "b": 2 * a, "c": rng.random(150), "first_relevant_rank": np.arange(150)}, seed=9)
    assert "first_relevant_rank" not in cis
    # with the same resampled indices, doubling every value doubles each bootstrap mean exactly
    assert cis["b"] == (2 * cis["a"][0], 2 * cis["a"][1])
    assert cis["a"] == bootstrap_ci(a, seed=9)


def test_bootstrap_degenerate_and_many_queries() -> None:
    assert bootstrap_ci(np.array([0.3])) == (0.3, 0.3)
    assert bootstrap_ci(np.full(50, 0.1)) == (0.1, 0.1)
    cis = bootstrap_cis({"same": np.zeros(4), "varied": np.array([0.0, 1.0, 0.0, 1.0])})
    assert cis["same"] == (0.0, 0.0) and cis["varied"][0] < cis["varied"][1]
    # more queries than one draw block holds: still deterministic and around the mean
    big = np.random.default_rng(2).random(20_000)
    lo, hi = bootstrap_ci(big, n_boot=300, seed=1)
    assert (lo, hi) == bootstrap_ci(big, n_boot=300, seed=1)
    assert lo < big.mean() < hi


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(MedmirError):
        bootstrap_ci(np.array([]))
    with pytest.raises(MedmirError):
        bootstrap_ci(np.array([0.1, np.nan]))
    with pytest.raises(MedmirError):
        bootstrap_ci(np.array([0.1, 0.2]), level=1.0)
    with pytest.raises(MedmirError):
        bootstrap_cis({"a": np.zeros(3), "b": np.zeros(4)})


# ---------------------------------------------------------------------------------------------- bad input


def test_bad_inputs_raise() -> None:
    ok_scores = np.zeros((3, 4), dtype=np.float32)
    ok_rel = np.zeros((3, 4), dtype=bool)
    nan = ok_scores.copy()
    nan[2, 1] = np.nan
    with pytest.raises(MedmirError, match=r"row 2.*NaN"):
        per_query_metrics(nan, ok_rel)
    inf = ok_scores.copy()
    inf[1, 3] = -np.inf
    with pytest.raises(MedmirError, match=r"row 1.*inf"):
        check_inputs(inf, ok_rel)
    with pytest.raises(MedmirError, match="shape"):
        per_query_metrics(ok_scores, np.zeros((3, 5), dtype=bool))
    with pytest.raises(MedmirError, match="nothing to evaluate"):
        per_query_metrics(np.zeros((0, 4), np.float32), np.zeros((0, 4), bool))
    with pytest.raises(MedmirError, match="nothing to evaluate"):
        per_query_metrics(np.zeros((3, 0), np.float32), np.zeros((3, 0), bool))
    with pytest.raises(MedmirError, match="2-D"):
        per_query_metrics(np.zeros(4, np.float32), np.zeros(4, bool))
    with pytest.raises(MedmirError, match="0/1"):
        per_query_metrics(ok_scores, np.full((3, 4), 2))
    with pytest.raises(MedmirError, match="positive integer"):
        per_query_metrics(ok_scores, ok_rel, ks=(0,))
    with pytest.raises(MedmirError, match="at least 1 x 1"):
        metrics_from_ranked(np.zeros((0, 4), bool))
    # 0/1 integers are accepted as relevance
    assert per_query_metrics(ok_scores, np.eye(3, 4, dtype=int))["hit@1"].tolist() == [1.0, 0.0, 0.0]
