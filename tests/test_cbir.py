"""The CBIR protocol of Denner et al. (image -> image, label match, macro over labels): hand-computed cases, exact
chance against random rankings, and the stratified bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from medmir.core.errors import MedmirError
from medmir.evaluate.baselines import expected_precision_at_k
from medmir.evaluate.image2image import CBIR_KS, CBIR_METRICS, cbir_figures, image_to_image
from medmir.evaluate.metrics import label_precision_at_k, macro_by_label
from medmir.evaluate.stats import bootstrap_cis, stratified_macro_cis


def _unit(degrees: list[float]) -> np.ndarray:
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------------- pure functions


def test_label_precision_at_k_by_hand() -> None:
    # one query, labels (A, B); ranks 1..3 carry {A}, {A, B}, {} -> A: 1, 2, 2 in the top 1, 2, 3; B: 0, 1, 1
    carries = np.array([[[1, 0], [1, 1], [0, 0]]], dtype=bool)
    p = label_precision_at_k(carries, (1, 2, 3, 5))
    assert p["precision@1"].tolist() == [[1.0, 0.0]]
    assert p["precision@2"].tolist() == [[1.0, 0.5]]
    assert p["precision@3"][0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert p["precision@5"][0].tolist() == pytest.approx([2 / 5, 1 / 5])  # top 5 = the whole ranking; still / 5
    assert label_precision_at_k(np.zeros((2, 0, 3), bool), (1,))["precision@1"].shape == (2, 3)
    with pytest.raises(MedmirError, match="queries, ranks, labels"):
        label_precision_at_k(np.zeros((2, 3), bool), (1,))


def test_macro_by_label_by_hand() -> None:
    values = np.array([[1.0, 0.2, 9.0], [0.0, 0.4, 9.0], [0.5, 9.0, 9.0]])
    members = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 0]], dtype=bool)  # label 2 has no query
    per_label, macro = macro_by_label(values, members)
    assert per_label[:2].tolist() == pytest.approx([0.5, 0.3]) and np.isnan(per_label[2])
    assert macro == pytest.approx(0.4)  # (0.5 + 0.3) / 2: labels weigh the same, whatever their query counts
    assert np.isnan(macro_by_label(values, np.zeros_like(members))[1])
    with pytest.raises(MedmirError):
        macro_by_label(values, members[:2])


def test_expected_precision_at_k() -> None:
    # 3 of 12 carry the label: r/n at k <= n; k > n: r * n / (n * k) = r / k; n = 0: 0
    got = expected_precision_at_k(np.array([12, 12, 4, 0]), np.array([3, 3, 2, 0]), 10)
    assert got.tolist() == pytest.approx([0.25, 0.25, 0.2, 0.0])
    assert expected_precision_at_k(12, 3, 1).tolist() == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------- the whole protocol

# Five images on the unit circle (cosine = cos of the angle between them), no ties:
#   0: A, patient p1, 0 deg      1: A+B, p2, 10 deg     2: B, p3, 22 deg     3: A, p1, 5 deg     4: C, p4, 90 deg
HAND_EMB = _unit([0, 10, 22, 5, 90])
HAND_LABELS = [["A"], ["A", "B"], ["B"], ["A"], ["C"]]
HAND_PATIENTS = ["p1", "p2", "p3", "p1", "p4"]


def test_cbir_hand_case() -> None:
    r = image_to_image(HAND_EMB, HAND_LABELS, HAND_PATIENTS)
    c = r["cbir"]
    assert c["labels"] == ["A", "B", "C"]
    p = c["per_query"]
    # query 0 (A): candidates 1, 2, 4 (3 is its own patient) ranked 1 (A+B), 2 (B), 4 (C)
    # query 1 (A, B): candidates 3 (A), 0 (A), 2 (B), 4 (C) in that order
    # query 2 (B): 1 (A+B), 3, 0, 4        query 3 (A): 1, 2, 4 (0 is its own patient)        query 4 (C): no C anywhere
    # (every (query, label) pair is computed; only a label's own queries count: A for 0, 1, 3, B for 1, 2, C for 4)
    assert c["members"].tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert p["precision@1"][[0, 1, 3], 0].tolist() == [1, 1, 1]  # label A
    assert p["precision@3"][[0, 1, 3], 0].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3])
    assert p["precision@1"][[1, 2], 1].tolist() == [0, 1]  # label B
    assert p["precision@3"][[1, 2], 1].tolist() == pytest.approx([1 / 3, 1 / 3])
    assert p["precision@10"][4, 2] == 0.0
    assert p["precision@10"][1].tolist() == pytest.approx([0.2, 0.1, 0.1])  # 4 candidates: the rest are excluded
    ch = c["chance_per_query"]
    # query 0: 1 of its 3 candidates carries A; query 1: 2 of 4 carry A, 1 of 4 carries B; k = 5 > 3 or 4 candidates
    assert ch["precision@1"][0, 0] == pytest.approx(1 / 3)
    assert ch["precision@1"][1, :2].tolist() == pytest.approx([0.5, 0.25])
    assert ch["precision@5"][0, 0] == pytest.approx(1 * 3 / (3 * 5))  # R * min(k, N) / (N * k)
    assert ch["precision@5"][1, :2].tolist() == pytest.approx([0.4, 0.2])
    assert ch["precision@1"][4, 2] == 0.0  # no candidate of query 4 carries C

    f = cbir_figures(r, n_boot=200, seed=0)
    # label A: queries 0, 1, 3; B: 1, 2; C: 4. P@1: A = 1, B = (0 + 1)/2, C = 0 -> macro 0.5
    assert f["macro"]["precision@1"]["value"] == pytest.approx(0.5)
    # P@3: A = (1/3 + 2/3 + 1/3) / 3 = 4/9, B = (1/3 + 1/3) / 2, C = 0 -> (4/9 + 1/3) / 3 = 7/27
    assert f["macro"]["precision@3"]["value"] == pytest.approx(7 / 27, abs=1e-6)
    # chance P@1: A = (1/3 + 1/2 + 1/3) / 3 = 7/18, B = (1/4 + 1/4) / 2, C = 0 -> 23/108
    assert f["macro"]["precision@1"]["chance"] == pytest.approx(23 / 108, abs=1e-6)
    rows = {row["label"]: row for row in f["per_label"]}
    assert [(lab, rows[lab]["queries"], rows[lab]["images"]) for lab in "ABC"] == [("A", 3, 3), ("B", 2, 2),
                                                                                   ("C", 1, 1)]  # fmt: skip
    assert rows["A"]["metrics"]["precision@3"]["value"] == pytest.approx(4 / 9, abs=1e-6)
    assert rows["C"]["metrics"]["precision@1"] == {"value": 0.0, "ci95": [0.0, 0.0], "chance": 0.0}
    assert f["labels"] == 3 and f["labels_without_queries"] == [] and f["query_label_pairs"] == 6
    assert f["ks"] == [1, 3, 5, 10] and set(f["macro"]) == set(CBIR_METRICS)
    assert f["published"]["values"]["precision@10"] == 0.583 and f["published"]["comparable"] is False
    for fig in f["macro"].values():
        assert fig["ci95"][0] <= fig["value"] <= fig["ci95"][1]


def test_cbir_reads_the_same_ranking_as_the_other_image_metrics() -> None:
    # P@1 of label-match and of shares-a-label agree whenever the query has one label (the top image is the same)
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(60, 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = [[str(rng.choice(["A", "B", "C", "D"]))] for _ in range(60)]
    r = image_to_image(emb, labels, [f"p{i // 3}" for i in range(60)], block=7)
    col = {lab: j for j, lab in enumerate(r["cbir"]["labels"])}
    own = np.array([col[lab[0]] for lab in labels])
    for k in (1, 5, 10):
        np.testing.assert_allclose(
            r["cbir"]["per_query"][f"precision@{k}"][np.arange(60), own], r["per_query"][f"precision@{k}"], atol=1e-12
        )
        np.testing.assert_allclose(
            r["cbir"]["chance_per_query"][f"precision@{k}"][np.arange(60), own],
            r["chance_per_query"][f"precision@{k}"],
            atol=1e-12,
        )


def test_cbir_chance_is_what_random_rankings_give() -> None:
    """The exact chance values equal the mean over many random rankings: random unit embeddings rank every query's
    candidates in a uniformly random order (their cosines with the query are exchangeable)."""
    rng = np.random.default_rng(11)
    n = 24
    labels = [sorted(set(rng.choice(["A", "B", "C", "D"], size=int(rng.integers(1, 3))).tolist())) for _ in range(n)]
    # patient 0 holds 16 images: its queries have 8 candidates, fewer than k = 10
    patients = ["p0"] * 16 + [f"p{i}" for i in range(1, n - 15)]
    exact = None
    sims = 3000
    draws: dict[str, list[float]] = {m: [] for m in CBIR_METRICS}
    label_draws: dict[str, list[np.ndarray]] = {m: [] for m in CBIR_METRICS}
    for _ in range(sims):
        emb = rng.normal(size=(n, 6)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        r = image_to_image(emb, labels, patients)
        c = r["cbir"]
        if exact is None:
            exact = {m: macro_by_label(c["chance_per_query"][m], c["members"]) for m in CBIR_METRICS}
        for m in CBIR_METRICS:
            per_label, macro = macro_by_label(c["per_query"][m], c["members"])
            draws[m].append(macro)
            label_draws[m].append(per_label)
    assert exact is not None
    for m in CBIR_METRICS:
        v = np.array(draws[m])
        se = v.std(ddof=1) / np.sqrt(sims)
        assert abs(v.mean() - exact[m][1]) <= 4 * se + 1e-9, (m, v.mean(), exact[m][1], se)
        per = np.array(label_draws[m])
        se_l = per.std(axis=0, ddof=1) / np.sqrt(sims)
        assert np.all(np.abs(per.mean(axis=0) - exact[m][0]) <= 4 * se_l + 1e-9), m
    # the chance differs between k <= candidates and k > candidates (denominator k): the case is exercised
    assert exact["precision@10"][1] < exact["precision@5"][1]


def test_cbir_on_a_sampled_bundle_uses_the_sampled_queries() -> None:
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(50, 4)).astype(np.float32)
    labels = [["A"] if i % 5 else ["A", "Rare"] for i in range(50)]
    r = image_to_image(emb, labels, [f"p{i}" for i in range(50)], max_queries=7, seed=4)
    assert r["sampled"] and r["cbir"]["members"].shape == (7, 2)
    f = cbir_figures(r, n_boot=50, seed=0)
    assert f["query_label_pairs"] == int(r["cbir"]["members"].sum())
    assert {row["label"] for row in f["per_label"]} | set(f["labels_without_queries"]) == {"A", "Rare"}


# ---------------------------------------------------------------------------------------------- stratified bootstrap


def test_stratified_macro_cis() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(40)
    # one group: the same draws as bootstrap_cis, so the same interval
    macro, per = stratified_macro_cis({"g": {"m": a}}, n_boot=300, seed=4)
    assert macro["m"] == per["g"]["m"] == bootstrap_cis({"m": a}, n_boot=300, seed=4)["m"]
    groups = {"x": {"m": a, "n": 2 * a}, "y": {"m": np.full(5, 0.25), "n": np.full(5, 0.5)}}
    macro, per = stratified_macro_cis(groups, n_boot=300, seed=4)
    assert per["y"] == {"m": (0.25, 0.25), "n": (0.5, 0.5)}  # constant group: no spread
    assert macro["n"] == pytest.approx((2 * macro["m"][0], 2 * macro["m"][1]))  # same draws for every metric
    assert macro["m"][0] < (a.mean() + 0.25) / 2 < macro["m"][1]
    assert macro == stratified_macro_cis(groups, n_boot=300, seed=4)[0]  # deterministic
    assert stratified_macro_cis({}, n_boot=10) == ({}, {})
    with pytest.raises(MedmirError):
        stratified_macro_cis({"x": {"m": a}, "y": {"n": a}})
    with pytest.raises(MedmirError):
        stratified_macro_cis({"x": {"m": a}}, level=1.0)
    with pytest.raises(MedmirError):
        stratified_macro_cis({"x": {"m": np.array([])}})


def test_cbir_ks() -> None:
    assert CBIR_KS == (1, 3, 5, 10)
