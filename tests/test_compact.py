"""Compact embeddings (int8 rows with scales and a center, sign codes): the arithmetic, pinned."""

from __future__ import annotations

import numpy as np
import pytest

from medmir.bundle.compact import Int8Rows, recall_at_k, sign_codes, sign_scores, sign_table, two_stage_top_k
from medmir.bundle.neighbors import top_k
from medmir.core.errors import MedmirError


def _unit(rng: np.random.Generator, n: int, d: int, cone: float = 0.0) -> np.ndarray:
    """Unit rows; `cone` > 0 puts them around one direction, as CLIP-like embeddings are."""
    x = rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if cone:
        x = cone * np.ones(d, np.float32) / np.sqrt(d) + (1 - cone) * x
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def test_int8_rows_round_within_half_a_step_and_score_as_dequantized() -> None:
    x = _unit(np.random.default_rng(0), 200, 37, cone=0.8)
    rows = Int8Rows.quantize(x)
    assert rows.codes.dtype == np.int8 and rows.scales.dtype == np.float32 and rows.center.shape == (37,)
    assert np.all(np.abs(rows.dequantize() - x) <= rows.scales[:, None] / 2 + 1e-7)
    assert np.abs(rows.codes).max() == 127  # the scale uses the whole range
    q = x[3]
    assert np.allclose(rows.scores(q), rows.dequantize() @ q, atol=1e-6)
    sub = np.array([5, 1, 7])
    assert np.array_equal(rows.scores(q, sub), rows.scores(q)[sub])
    with pytest.raises(MedmirError, match="shape"):
        Int8Rows.quantize(np.zeros((0, 4), np.float32))


def test_centering_shrinks_the_rounding_error_of_cone_shaped_rows() -> None:
    x = _unit(np.random.default_rng(1), 500, 64, cone=0.8)
    q = x[:20]
    err = {}
    for centered in (False, True):
        rows = Int8Rows.quantize(x, centered=centered)
        err[centered] = max(np.abs(rows.scores(v) - x @ v).max() for v in q)
    assert err[True] < err[False] / 2


def test_sign_scores_equal_the_brute_force_sum() -> None:
    rng = np.random.default_rng(2)
    for d in (8, 13, 64):  # 13: the last byte is padded
        x = rng.normal(size=(30, d)).astype(np.float32)
        q = rng.normal(size=d).astype(np.float32)
        codes = sign_codes(x)
        assert codes.shape == (30, (d + 7) // 8)
        want = (np.where(x > 0, 1.0, -1.0) @ q).astype(np.float32)
        assert np.allclose(sign_scores(q, codes), want, atol=1e-5)
        assert sign_table(q).shape == ((d + 7) // 8, 256)


def test_two_stage_with_every_candidate_is_the_int8_ranking_with_its_tie_break() -> None:
    x = _unit(np.random.default_rng(3), 120, 16)
    x[40] = x[90]  # a tie: the lower row must come first
    rows = Int8Rows.quantize(x)
    codes = sign_codes(x, rows.center)
    for q in (x[90], x[5]):
        ids, scores = two_stage_top_k(q, codes, rows, 10, candidates=120)
        assert np.array_equal(ids, top_k(rows.scores(q), 10))
        assert np.array_equal(scores, rows.scores(q)[ids])
    assert list(two_stage_top_k(x[90], codes, rows, 2, candidates=120)[0]) == [40, 90]


def test_recall_at_k() -> None:
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    assert recall_at_k(np.array([[3, 2, 1], [4, 9, 8]]), exact) == pytest.approx((3 + 1) / 6)
    with pytest.raises(MedmirError, match="shapes differ"):
        recall_at_k(exact[:, :2], exact)


def test_top_k_many_a_chunk_at_a_time_is_the_whole_rankings_top_k() -> None:
    from medmir.bundle.neighbors import top_k_rows

    rng = np.random.default_rng(5)
    x = _unit(rng, 300, 24, cone=0.5)
    x[250] = x[40]  # equal rows in different chunks: the tie goes to the lower row
    x[41] = x[40]
    rows = Int8Rows.quantize(x)
    q = np.concatenate([x[[40, 7]], _unit(rng, 3, 24)])
    whole = rows.scores_many(q)
    for k in (1, 5, 300, 400):
        ids, vals = rows.top_k_many(q, k, chunk=64)
        assert np.array_equal(ids, top_k_rows(whole, min(k, 300)))
        assert np.array_equal(vals, np.take_along_axis(whole, ids, axis=1))
    assert list(rows.top_k_many(q[:1], 3, chunk=64)[0][0]) == [40, 41, 250]
    passes = rng.random(300) < 0.1
    ids, vals = rows.top_k_many(q, 5, passes, chunk=32)
    assert np.array_equal(ids, top_k_rows(np.where(passes, whole, -np.inf).astype(np.float32), 5))
    assert passes[ids[np.isfinite(vals)]].all()
