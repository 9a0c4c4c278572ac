"""The Python API (medmir.open): what it returns, that `medmir search` returns the same, and that opening a version 2
bundle builds only the metadata rows a search returns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BundleFactory

import medmir
from medmir.api import Filters, Result
from medmir.bundle import columns
from medmir.core.errors import MedmirError
from medmir.model.pack import ModelPack
from tests.test_select import NIH_SAMPLE

QUERY = "left pleural effusion with basal atelectasis"


@pytest.fixture(scope="module")
def bundle(nih_bundle: BundleFactory) -> Path:
    """12 NIH images with their real labels and patients, version 2 in shards (and thumbnail packs) of 4 rows."""
    return nih_bundle(12, 2, shard_rows=4, thumbs_per_pack=4)


@pytest.fixture()
def col(bundle: Path, tiny_pack: Path):  # type: ignore[no-untyped-def]
    with medmir.open(bundle, tiny_pack, precision="int8") as c:
        yield c


def _cli(bundle: Path, pack: Path, *extra: str) -> list[dict]:
    cmd = [sys.executable, "-m", "medmir.cli", "search", *extra, "--bundle", str(bundle), "--model", str(pack),
           "--json", "--k", "5"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_text_search_equals_the_cli(col: medmir.Collection, bundle: Path, tiny_pack: Path) -> None:
    got = col.search(QUERY, k=5)
    assert [r.rank for r in got] == [1, 2, 3, 4, 5] and all(isinstance(r, Result) for r in got)
    cli = _cli(bundle, tiny_pack, QUERY)
    assert [(r.filename, round(r.score, 6), list(r.labels)) for r in got] == [
        (h["filename"], h["score"], h["labels"]) for h in cli
    ]
    assert all(r.patient for r in got), "NIH rows carry a patient pseudonym"
    assert [r.score for r in got] == sorted((r.score for r in got), reverse=True)


def test_image_search_equals_the_cli(col: medmir.Collection, bundle: Path, tiny_pack: Path) -> None:
    image = next((NIH_SAMPLE / "images").iterdir())
    got = col.search(image, k=5)
    cli = _cli(bundle, tiny_pack, "--image", str(image))
    assert [(r.filename, round(r.score, 6)) for r in got] == [(h["filename"], h["score"]) for h in cli]
    # the same image as an array
    from PIL import Image

    arr = np.asarray(Image.open(image).convert("RGB"))
    assert [r.filename for r in col.search(arr, k=5)] == [r.filename for r in got]


def test_a_row_and_a_vector_as_the_query(col: medmir.Collection) -> None:
    by_row = col.search(3, k=4)
    assert by_row[0].row == 3  # a row is its own best match
    vec = col.query_vector(3)
    assert [r.row for r in col.search(vec, k=4)] == [r.row for r in by_row]
    with pytest.raises(MedmirError, match="no row 99"):
        col.search(99)
    with pytest.raises(MedmirError, match="values"):
        col.search(np.zeros(7, np.float32))


def test_similar_is_the_bundles_neighbours(col: medmir.Collection) -> None:
    nn = col.bundle.neighbors()
    for row in (0, 5, 11):  # rows in the first, second and last shard
        got = col.similar(row)
        assert [r.row for r in got] == nn["ids"][row]
        assert np.allclose([r.score for r in got], nn["scores"][row])
        assert row not in [r.row for r in got]
    assert len(col.similar(0, k=2)) == 2


def test_label_filters(col: medmir.Collection) -> None:
    labels = col.labels
    assert labels == sorted(labels) and "No Finding" in labels
    every = col.search(QUERY, k=12)
    none_nf = col.search(QUERY, k=12, filters=Filters(none_of=("No Finding",)))
    assert none_nf and all("No Finding" not in r.labels for r in none_nf)
    assert [r.row for r in none_nf] == [r.row for r in every if "No Finding" not in r.labels]
    some = col.search(QUERY, k=12, filters=Filters(any_of=("No Finding",)))
    assert all("No Finding" in r.labels for r in some)
    with pytest.raises(MedmirError, match="unknown label"):
        col.search(QUERY, filters=Filters(all_of=("Efusion",)))


def test_many_queries_equal_one_at_a_time(col: medmir.Collection) -> None:
    qs = [QUERY, "enlarged cardiac silhouette", "small nodule in the right upper lobe"]
    many = list(col.search_many(qs, k=3, batch=2))
    one = [col.search(q, k=3) for q in qs]
    assert [[r.row for r in rs] for rs in many] == [[r.row for r in rs] for rs in one]
    assert np.allclose([[r.score for r in rs] for rs in many], [[r.score for r in rs] for rs in one], atol=1e-6)
    filt = Filters(none_of=("No Finding",))
    assert [[r.row for r in rs] for rs in col.search_many(qs, k=3, filters=filt)] == [
        [r.row for r in col.search(q, k=3, filters=filt)] for q in qs
    ]
    # the batch's score matrix, a chunk of rows at a time, is each query's scores
    vecs = col.embed_text(qs)
    rows = col.bundle.rows
    assert rows is not None
    assert np.allclose(rows.scores_many(vecs, chunk=5), [rows.scores(v) for v in vecs], atol=1e-6)


def test_opening_builds_only_the_rows_returned(bundle: Path, tiny_pack: Path) -> None:
    with medmir.open(bundle, tiny_pack, verify=False) as c:
        rows = c.bundle.metadata
        assert isinstance(rows, columns.Rows)
        c.search(QUERY, k=2)
        assert rows.built == 2


def test_bad_input_is_a_clear_error(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    with pytest.raises(MedmirError, match="bundle folder not found"):
        medmir.open(tmp_path / "nope", tiny_pack)
    with medmir.open(bundle, tiny_pack) as c:
        with pytest.raises(MedmirError, match="empty query"):
            c.search("   ")
        with pytest.raises(MedmirError, match="k must be"):
            c.search(QUERY, k=0)
        with pytest.raises(MedmirError, match="uint8"):
            c.search(np.zeros((4, 4), np.float64))


def test_batch_queries_from_the_cli(col: medmir.Collection, bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    qs = [QUERY, "enlarged cardiac silhouette", "small nodule in the right upper lobe"]
    (tmp_path / "q.txt").write_text("\n".join(qs) + "\n\n")
    (tmp_path / "q.csv").write_text("id,query\n" + "".join(f'{i},"{q}"\n' for i, q in enumerate(qs)))
    want = [[(r.filename, round(r.score, 6)) for r in col.search(q, k=5)] for q in qs]
    base = [sys.executable, "-m", "medmir.cli", "search", "--bundle", str(bundle), "--model", str(tiny_pack),
            "--k", "5"]  # fmt: skip
    out = subprocess.run([*base, "--queries", str(tmp_path / "q.txt")], capture_output=True, text=True, check=True)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["query"] for x in lines] == qs
    assert [[(h["filename"], h["score"]) for h in x["results"]] for x in lines] == want
    subprocess.run([*base, "--queries", str(tmp_path / "q.csv"), "--csv", "--out", str(tmp_path / "r.csv")],
                   capture_output=True, text=True, check=True)  # fmt: skip
    import csv

    rows = list(csv.DictReader((tmp_path / "r.csv").read_text().splitlines()))
    assert len(rows) == 15 and rows[0]["query"] == QUERY and rows[0]["rank"] == "1"
    got = [(r["filename"], float(r["score"])) for r in rows[:5]]
    assert got == [(f, pytest.approx(s, abs=1e-6)) for f, s in want[0]]


def test_a_bad_queries_file_is_named(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("text\nsomething\n")
    (tmp_path / "empty.txt").write_text("\n\n")
    base = [sys.executable, "-m", "medmir.cli", "search", "--bundle", str(bundle), "--model", str(tiny_pack)]
    for name, msg in (("bad.csv", "'query' column"), ("empty.txt", "no queries"), ("missing.txt", "not found")):
        done = subprocess.run([*base, "--queries", str(tmp_path / name)], capture_output=True, text=True)
        assert done.returncode != 0 and msg in done.stderr and name in done.stderr, done.stderr


def test_a_bundle_is_verified_once_until_a_file_changes(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    from medmir.bundle.verify import verify_once

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    verify_once(copy)
    verify_once(copy)  # unchanged: no second pass (nothing to observe but that it passes)
    scales = copy / "scales.f32"
    data = bytearray(scales.read_bytes())
    data[:4] = bytes(4)  # same size, other bytes: the modification time gives it away
    scales.write_bytes(bytes(data))
    with pytest.raises(MedmirError, match=r"scales\.f32.*sha256"):
        medmir.open(copy, tiny_pack)
    with pytest.raises(MedmirError, match=r"scales\.f32.*sha256"):
        verify_once(copy)


def test_parallel_text_workers_embed_what_one_does(bundle: Path, tiny_pack: Path) -> None:
    """Each query is still embedded alone (INT8 scales its activations over a batch), whichever worker runs it."""
    qs = [QUERY, "enlarged cardiac silhouette", "small nodule in the right upper lobe", "clear lungs", "edema"]
    for runtime in ("web", "native"):
        one = ModelPack.open(tiny_pack, text_runtime=runtime)
        two = ModelPack.open(tiny_pack, text_runtime=runtime)
        two.start_text(workers=2)
        try:
            assert two.text_workers == 2
            assert np.array_equal(one.encode_text(qs), two.encode_text(qs))
        finally:
            one.close()
            two.close()


def test_label_matrix_is_each_rows_labels(bundle: Path, tiny_pack: Path) -> None:
    from medmir.bundle.read import Bundle

    b = Bundle.open(bundle)
    table, has = b.label_matrix()
    assert table == sorted(table)
    assert [sorted(table[j] for j in np.flatnonzero(row)) for row in has] == [
        sorted(b.row_labels(i)) for i in range(b.count)
    ]


def test_a_pack_is_verified_once_until_a_file_changes(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    copy = tmp_path / "pack"
    shutil.copytree(tiny_pack, copy)
    ModelPack.open(copy).close()
    ModelPack.open(copy).close()  # unchanged: no second hashing
    vocab = copy / "vocab.txt"
    data = bytearray(vocab.read_bytes())
    data[:1] = b"#" if data[:1] != b"#" else b"%"
    vocab.write_bytes(bytes(data))  # same size, other bytes
    with pytest.raises(MedmirError, match=r"vocab\.txt.*sha256"):
        ModelPack.open(copy)
