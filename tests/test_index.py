"""The index stage and the bundle contract on real NIH images with the tiny random model.

The `bundle` fixture is bundle format 1 on purpose: these tests read its float32 rows (embeddings.bin) as the exact
oracle and damage its version 1 files; format 2 against format 1 is tests/test_bundle_v2.py. The other tests index
with the default format (2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE

from medmir.api import Collection
from medmir.bundle.neighbors import nearest_neighbors, top_k, top_k_rows
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.bundle.write import fallback_queries
from medmir.core.errors import MedmirError
from medmir.data.subset import select
from medmir.imaging.decode import load_image, preprocess_for_model
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.model.pack import ModelPack


@pytest.fixture(scope="module")
def selection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sel") / "sel"
    select(NIH_SAMPLE / "images", NIH_SAMPLE / "Data_Entry_2017_v2020.csv.gz", out, per_label=2, seed=3)
    rgba = next(p for p in (NIH_SAMPLE / "images").iterdir() if load_image(p) and _mode(p) == "RGBA")
    if not (out / "images" / rgba.name).exists():  # make sure an RGBA original is in the set
        shutil.copy(rgba, out / "images" / rgba.name)
        with (out / "labels.csv").open("a") as f:
            f.write(f"{rgba.name},Effusion,Effusion,1,50,F,PA\n")
    return out


def _mode(p: Path) -> str:
    from PIL import Image

    with Image.open(p) as im:
        return im.mode


@pytest.fixture(scope="module")
def bundle(selection: Path, tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "b"
    build_index(IndexOptions(selection / "images", selection / "labels.csv", tiny_pack, out, neighbors=5,
                cache_dir=out.parent / "cache", workers=2, bundle_format=1))  # fmt: skip
    return out


def test_round_trip(bundle: Path, selection: Path, tiny_pack: Path) -> None:
    b = Bundle.open(bundle)
    n = b.count
    rows = (selection / "labels.csv").read_text().splitlines()[1:]
    assert n == len(rows) > 15
    assert b.embeddings.shape == (n, 64)
    assert np.allclose(np.linalg.norm(b.embeddings, axis=1), 1, atol=1e-5)
    info = b.info
    assert info.random_weights is True and "meaningless" in info.warning
    assert info.image_embeddings["precision"] == "fp32"
    m = b.metadata[0]
    assert m["id"] == 0 and m["thumbnail"].startswith("images/") and m["report"].startswith("Findings: ")
    # embeddings equal the pack run directly on the original image, with the manifest's preprocessing
    pack = ModelPack.open(tiny_pack)
    for i in (0, n - 1):
        img = load_image(selection / "images" / b.metadata[i]["filename"])
        direct = pack.encode_pixels(preprocess_for_model(img, pack.preprocess)[None], "fp32")[0]
        assert float(direct @ b.embeddings[i]) > 0.99999


def test_neighbors_recomputed_independently(bundle: Path) -> None:
    b = Bundle.open(bundle)
    nn = b.neighbors()
    e = np.asarray(b.embeddings, dtype=np.float64)
    full = e @ e.T
    np.fill_diagonal(full, -np.inf)
    for i in range(b.count):
        order = sorted(range(b.count), key=lambda j: (-full[i, j], j))[: nn["k"]]
        assert nn["ids"][i] == order
        assert np.allclose(nn["scores"][i], full[i, order], atol=1e-5)


def test_fallback_recomputed_independently(bundle: Path, tiny_pack: Path) -> None:
    b = Bundle.open(bundle)
    fb = b.fallback()
    assert fb["text_model"] == "int8" and len(fb["queries"]) >= 55
    assert [q["query"] for q in fb["queries"]] == fallback_queries()
    pack = ModelPack.open(tiny_pack)
    q = fb["queries"][3]
    v = pack.encode_text([q["query"]], "int8")[0]
    scores = np.asarray(b.embeddings) @ v
    assert q["ids"] == sorted(range(b.count), key=lambda j: (-scores[j], j))[:10]


def test_rerun_embeds_nothing_new_then_only_the_new_image(bundle: Path, selection: Path, tiny_pack: Path) -> None:
    before = (bundle / "embeddings.bin").read_bytes()
    rep = build_index(IndexOptions(selection / "images", selection / "labels.csv", tiny_pack, bundle, neighbors=5,
                      cache_dir=bundle.parent / "cache", workers=2, bundle_format=1))  # fmt: skip
    assert rep.embedded == 0 and rep.cached == rep.count
    assert (bundle / "embeddings.bin").read_bytes() == before
    extra = selection.parent / "plus"
    shutil.copytree(selection, extra)
    new = next(p for p in sorted((NIH_SAMPLE / "images").iterdir()) if not (extra / "images" / p.name).exists())
    shutil.copy(new, extra / "images" / new.name)
    with (extra / "labels.csv").open("a") as f:
        f.write(f"{new.name},Nodule,Nodule,9,40,M,AP\n")
    rep2 = build_index(IndexOptions(extra / "images", extra / "labels.csv", tiny_pack, extra / "bundle", neighbors=5,
                       cache_dir=bundle.parent / "cache", workers=2))  # fmt: skip
    assert rep2.embedded == 1 and rep2.cached == rep.count


@pytest.mark.parametrize("target", ["embeddings.bin", "metadata.json", "nearest_neighbors.json", "thumbnail"])
def test_verify_catches_flipped_bytes(bundle: Path, tmp_path: Path, target: str) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(bundle, bad)
    path = next((bad / "images").iterdir()) if target == "thumbnail" else bad / target
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(MedmirError) as exc:
        verify_bundle(bad)
    assert (path.name if target != "thumbnail" else "images") in str(exc.value)


def test_verify_catches_truncation_and_count_edits(bundle: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trunc"
    shutil.copytree(bundle, bad)
    emb = bad / "embeddings.bin"
    emb.write_bytes(emb.read_bytes()[:-8])
    with pytest.raises(MedmirError, match=r"embeddings\.bin: .*bytes.*truncated"):
        verify_bundle(bad)
    bad2 = tmp_path / "info"
    shutil.copytree(bundle, bad2)
    info = json.loads((bad2 / "index_info.json").read_text())
    info["count"] += 1
    (bad2 / "index_info.json").write_text(json.dumps(info))
    with pytest.raises(MedmirError, match="expected"):
        verify_bundle(bad2)
    (bad2 / "index_info.json").write_text("{trunc")
    with pytest.raises(MedmirError, match=r"index_info\.json: not valid JSON"):
        Bundle.open(bad2)
    proc = subprocess.run([sys.executable, "-m", "medmir.cli", "verify", str(bad)], capture_output=True)
    assert proc.returncode == 2 and b"embeddings.bin" in proc.stderr and b"Traceback" not in proc.stderr


def test_search_matches_brute_force_and_cli(bundle: Path, tiny_pack: Path) -> None:
    b, pack = Bundle.open(bundle), ModelPack.open(tiny_pack)
    query = "small left pleural effusion with basal atelectasis"
    hits = Collection(b, pack).search(query, k=7)
    scores = np.asarray(b.embeddings) @ pack.encode_text([query], "int8")[0]
    assert [h.row for h in hits] == sorted(range(b.count), key=lambda j: (-scores[j], j))[:7]
    proc = subprocess.run(
        [sys.executable, "-m", "medmir.cli", "search", query, "--bundle", str(bundle), "--model", str(tiny_pack),
         "--k", "7", "--json"],
        capture_output=True, check=True,
    )  # fmt: skip
    out = json.loads(proc.stdout)
    assert [o["filename"] for o in out] == [h.filename for h in hits]
    assert [o["rank"] for o in out] == list(range(1, 8))
    assert set(out[0]) == {"rank", "filename", "score", "labels", "patient", "row", "band"}


def test_image_search_finds_itself(bundle: Path, selection: Path, tiny_pack: Path) -> None:
    b, pack = Bundle.open(bundle), ModelPack.open(tiny_pack)
    name = b.metadata[4]["filename"]
    hits = Collection(b, pack, precision="fp32").search(selection / "images" / name, k=3)
    assert hits[0].filename == name and hits[0].score > 0.9999


def test_bad_images_are_reported_and_skipped(selection: Path, tiny_pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(selection, src)
    names = sorted(p.name for p in (src / "images").iterdir())
    corrupt = src / "images" / names[0]
    data = bytearray(corrupt.read_bytes())
    for i in range(2000, 6000):
        data[i] ^= 0x5A
    corrupt.write_bytes(bytes(data))
    trunc = src / "images" / names[1]
    trunc.write_bytes(trunc.read_bytes()[:5000])
    (src / "images" / names[2]).write_text("this is not a png")
    out = tmp_path / "bundle"
    rep = build_index(IndexOptions(src / "images", src / "labels.csv", tiny_pack, out, cache_dir=None, workers=2))
    skipped = {Path(what).name for what, _ in rep.skipped.items}
    assert skipped == {names[0], names[1], names[2]}
    assert rep.count == len(names) - 3
    verify_bundle(out)
    with pytest.raises(MedmirError, match=names[0].replace(".", r"\.")):
        build_index(IndexOptions(src / "images", src / "labels.csv", tiny_pack, out, strict=True, workers=2))
    verify_bundle(out)  # the failed strict run left the previous bundle as it was
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_html_and_odd_file_names_stay_data(tiny_pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    odd = "<img src=x onerror=alert(1)> & y.png"
    shutil.copy(NIH_SAMPLE / "images" / "00000075_000.png", src / odd)
    shutil.copy(NIH_SAMPLE / "images" / "00000284_000.png", src / "plain.png")
    (tmp_path / "l.csv").write_text(f'filename,labels\n"{odd}",<i>Label</i>\nplain.png,Other\n', encoding="utf-8")
    out = tmp_path / "b"
    build_index(IndexOptions(src, tmp_path / "l.csv", tiny_pack, out, workers=1))
    b = Bundle.open(out)
    assert b.info.format_version == 2  # the default
    assert b.metadata[0]["filename"] == odd and b.metadata[0]["labels"] == ["<i>Label</i>"]
    assert b.thumbnail(0)[8:12] == b"WEBP"


def test_no_usable_images_is_an_error_and_leaves_nothing(tiny_pack: Path, tmp_path: Path) -> None:
    src = tmp_path / "imgs"
    src.mkdir()
    (src / "a.png").write_text("not an image")
    (tmp_path / "l.csv").write_text("filename,labels\na.png,X\n", encoding="utf-8")
    with pytest.raises(MedmirError, match="no image could be embedded"):
        build_index(IndexOptions(src, tmp_path / "l.csv", tiny_pack, tmp_path / "out", workers=1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs", "l.csv"]
    with pytest.raises(MedmirError, match="none of the images"):
        (tmp_path / "l.csv").write_text("filename,labels\nb.png,X\n", encoding="utf-8")
        build_index(IndexOptions(src, tmp_path / "l.csv", tiny_pack, tmp_path / "out", workers=1))


def test_top_k_ties_and_blocks() -> None:
    s = np.array([0.5, 0.9, 0.9, 0.1, 0.9, 0.2], dtype=np.float32)
    assert top_k(s, 2).tolist() == [1, 2]
    assert top_k(s, 4).tolist() == [1, 2, 4, 0]
    assert top_k(s, 10).tolist() == [1, 2, 4, 0, 5, 3]
    rng = np.random.default_rng(0)
    e = rng.standard_normal((301, 8)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    ids, _ = nearest_neighbors(e, 4, budget_bytes=4 * 301 * 7)  # 7 rows per block
    full = e @ e.T
    np.fill_diagonal(full, -np.inf)
    assert (ids == np.argsort(-full, axis=1, kind="stable")[:, :4]).all()


def test_top_k_rows_equals_top_k_row_by_row_with_ties() -> None:
    rng = np.random.default_rng(1)
    for levels in (3, 7, 1000):  # few score levels: ties at the k-th score, inside and outside the partition
        block = (rng.integers(0, levels, size=(50, 40)) / levels).astype(np.float32)
        for k in (1, 5, 39, 40, 60):
            want = np.stack([top_k(row, k) for row in block])
            assert np.array_equal(top_k_rows(block, k), want), (levels, k)
