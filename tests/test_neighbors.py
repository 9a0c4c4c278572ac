"""Nearest neighbours: the exact path against brute force (ties included), the approximate path's recall on
structured rows, determinism, and the recorded recall being a real measurement. No timing is asserted here
(benchmarks/neighbors.py measures it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from medmir.bundle.neighbors import nearest_neighbors, neighbor_graph, top_k, top_k_rows
from medmir.bundle.write import BundleWriter
from medmir.data.records import Record
from medmir.model.pack import ModelPack


def brute_force(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair in float64, sorted by (-score, index): the ranking rule, written out."""
    full = x.astype(np.float64) @ x.T.astype(np.float64)
    np.fill_diagonal(full, -np.inf)
    ids = np.array([sorted(range(len(x)), key=lambda j, r=r: (-r[j], j))[:k] for r in full], dtype=np.int64)
    return ids.reshape(len(x), k), np.take_along_axis(full, ids.reshape(len(x), k), axis=1)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n: int, seed: int = 1) -> np.ndarray:
    """Structured rows: 40 centres in 512-d, each with an 8-d spread of its own, plus a little noise."""
    rng = np.random.default_rng(seed)
    centres, spread = rng.standard_normal((40, 512)), rng.standard_normal((40, 8, 512))
    label, z = rng.integers(0, 40, n), rng.standard_normal((n, 8)) * 0.3
    return unit(centres[label] + np.einsum("nj,njd->nd", z, spread[label]) + 0.05 * rng.standard_normal((n, 512)))


@pytest.mark.parametrize(("n", "k"), [(1, 3), (2, 3), (7, 3), (50, 10), (120, 49), (120, 200)])
def test_exact_path_equals_brute_force_with_ties(n: int, k: int) -> None:
    # small integer vectors: float32 dot products are exact, and many of them tie
    x = np.random.default_rng(n).integers(-2, 3, size=(n, 6)).astype(np.float32)
    ids, scores = nearest_neighbors(x, k, budget_bytes=4 * n * 7)  # 7 rows per block
    want_ids, want_scores = brute_force(x, min(k, n - 1))
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert np.array_equal(ids, want_ids)
    assert np.array_equal(scores, want_scores.astype(np.float32))


def test_wide_rows_take_the_chunked_path_and_keep_ties_exact() -> None:
    rng = np.random.default_rng(2)
    for levels in (3, 50, 10_000):  # few levels: the k-th score ties inside and outside the kept chunks
        block = (rng.integers(0, levels, size=(20, 3000)) / levels).astype(np.float32)
        for k in (1, 10, 30):
            want = np.stack([top_k(row, k) for row in block])
            assert np.array_equal(top_k_rows(block, k, chunk=16), want), (levels, k)


def test_approximate_path_reaches_the_target_recall_on_structured_rows() -> None:
    x = clustered(4000)
    graph = neighbor_graph(x, 10, exact_max_rows=0)
    want, _ = brute_force(x, 10)
    assert graph.report["method"] == "approximate"
    assert graph.report["nprobe"] < graph.report["nlist"]
    hits = sum(np.intersect1d(a, b).size for a, b in zip(graph.ids, want, strict=True))
    assert hits / want.size >= 0.99
    # the contract of the exact path holds too: self excluded, best first, scores are the pairs' dot products
    assert not (graph.ids == np.arange(len(x))[:, None]).any()
    assert (np.diff(graph.scores, axis=1) <= 0).all()
    assert np.allclose(graph.scores, np.einsum("id,ikd->ik", x, x[graph.ids]), atol=1e-6)


def test_recorded_recall_is_measured_on_held_out_rows() -> None:
    x = clustered(3000, seed=3)
    graph = neighbor_graph(x, 10, exact_max_rows=0)
    rows = graph.checked
    assert len(rows) == graph.report["recall_rows"] == 1000 and len(np.unique(rows)) == 1000
    want, _ = brute_force(x, 10)
    hits = sum(np.intersect1d(a, b).size for a, b in zip(graph.ids[rows], want[rows], strict=True))
    assert graph.report["recall"] == round(hits / (10 * len(rows)), 5)


def test_deterministic_and_reads_a_read_only_memmap(tmp_path: Path) -> None:
    x = clustered(3000, seed=4)
    x.tofile(tmp_path / "e.bin")  # the writer hands over embeddings.bin as a read-only memmap
    a = neighbor_graph(x, 10, exact_max_rows=0)
    b = neighbor_graph(np.memmap(tmp_path / "e.bin", dtype="<f4", mode="r", shape=x.shape), 10, exact_max_rows=0)
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.scores, b.scores) and a.report == b.report
    assert not np.array_equal(neighbor_graph(x, 10, exact_max_rows=0, seed=1).checked, a.checked)


def test_rows_without_structure_fall_back_to_exact() -> None:
    x = unit(np.random.default_rng(5).standard_normal((3000, 256)))
    graph = neighbor_graph(x, 10, exact_max_rows=0)
    assert graph.report["method"] == "exact" and graph.report["recall"] == 1.0
    rejected = graph.report["approximate_rejected"]
    assert rejected["nprobe"] is None and max(rejected["tune_recall"].values()) < 0.99
    assert np.array_equal(graph.ids, brute_force(x, 10)[0])


def test_bundle_records_how_neighbours_were_computed(tiny_pack: Path, tmp_path: Path) -> None:
    pack = ModelPack.open(tiny_pack)
    (tmp_path / "b").mkdir()
    writer = BundleWriter(tmp_path / "b", pack)
    for i, v in enumerate(unit(np.random.default_rng(6).standard_normal((5, pack.embed_dim)))):
        writer.add(Record(f"img{i}.png", ()), v, b"RIFF")
    writer.finish(neighbors=3, image_embeddings={})
    info = json.loads((tmp_path / "b" / "index_info.json").read_text())
    assert info["neighbors"] == {"k": 3, "method": "exact", "recall": 1.0, "recall_rows": 5}


def test_performance_doc_quotes_the_committed_neighbour_results() -> None:
    from benchmarks import neighbors as bench
    from benchmarks.report import read_block, read_result

    r = read_result("neighbors")
    assert read_block(bench.DOC, "neighbors") == bench.render(r)
    for name, c in r["corpora"].items():  # a bundle's neighbours: exact, or measured at recall@10 >= 0.99
        assert c["medmir"]["recall_at_10"] >= 0.99 or c["medmir"]["report"]["method"] == "exact", name
        assert c["medmir"]["report"]["recall"] >= 0.99, name
