"""`medmir index --update`: images added (only new ones embedded) and removed by file name or patient id; a removed
patient leaves no byte of their rows, thumbnails, names or ids in the bundle, and the neighbours are those of the
new set."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE, BundleFactory

from medmir.bundle.neighbors import nearest_neighbors
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.index.update import update_index

LABELS = NIH_SAMPLE / "Data_Entry_2017_v2020.csv.gz"


@pytest.fixture(scope="module")
def names() -> list[str]:
    return sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:15]


@pytest.fixture()
def bundle(nih_bundle: BundleFactory, tmp_path: Path) -> Path:
    """The first 12 images, version 2 in shards and thumbnail packs of 4 rows (a copy: the tests change it)."""
    shutil.copytree(nih_bundle(12, 2, shard_rows=4, thumbs_per_pack=4), tmp_path / "bundle")
    return tmp_path / "bundle"


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def _neighbours_are_the_new_sets(b: Bundle) -> None:
    """Each row's stored neighbours are its best k rows of the new set: by the stored rows' own scores, up to the
    int8 rounding the stored rows carry (the writer ranks the float vectors it was given, as at index time)."""
    emb = np.asarray(b.embeddings)
    want, _ = nearest_neighbors(emb, b.info.neighbors_k)
    got = np.asarray(b.neighbors()["ids"])
    assert got.shape == want.shape and got.max() < b.count
    for i in range(b.count):
        assert i not in got[i]
        scores = emb @ emb[i]
        assert scores[got[i]].min() >= scores[want[i]].min() - 2e-3


def test_a_withdrawn_patient_leaves_no_byte_behind(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    before = Bundle.open(bundle)
    patient = before.metadata[0]["patient_id"]
    one_file = before.metadata[5]["filename"]
    gone = [i for i in range(before.count) if before.metadata[i]["patient_id"] == patient or i == 5]
    secrets = [before.thumbnail(i) for i in gone] + [before.rows.codes[i].tobytes() for i in gone]  # type: ignore[union-attr]
    names = [before.metadata[i]["filename"].encode() for i in gone]
    kept = [i for i in range(before.count) if i not in gone]
    kept_rows = [(before.metadata[i]["filename"], before.embedding(i), before.thumbnail(i)) for i in kept]
    rep = update_index(bundle, tiny_pack, remove={patient, one_file, "nobody-42"})
    assert sorted(rep.removed) == sorted(n.decode() for n in names) and rep.unmatched == ["nobody-42"]
    assert rep.kept == before.count - len(gone) and rep.count == rep.kept and rep.embedded == 0
    verify_bundle(bundle)
    after = Bundle.open(bundle)
    assert [m["filename"] for m in after.metadata] == [name for name, _, _ in kept_rows]
    blob = _all_bytes(bundle)
    for s in secrets + names:
        assert s not in blob
    assert f'"{patient}"'.encode() not in blob
    _neighbours_are_the_new_sets(after)
    for j, (_, vector, thumb) in enumerate(kept_rows):  # kept rows keep their vectors (int8 rounding) and thumbnails
        assert float(after.embedding(j) @ vector) > 0.999
        assert after.thumbnail(j) == thumb


def test_adding_embeds_only_the_new_images(bundle: Path, names: list[str], tiny_pack: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    new.mkdir()
    for n in names[9:]:  # 3 already in the bundle, 3 new
        shutil.copy(NIH_SAMPLE / "images" / n, new / n)
    rep = update_index(bundle, tiny_pack, images=new, labels=LABELS)
    assert rep.kept == 12 and rep.embedded == 3 and rep.count == 15
    assert sorted(what for what, why in rep.skipped.items if "already in the bundle" in why) == sorted(
        str(new / n) for n in names[9:12]
    )
    verify_bundle(bundle)
    after = Bundle.open(bundle)
    assert [m["filename"] for m in after.metadata][12:] == names[12:]
    assert all(after.metadata[i]["labels"] for i in range(15)), "labels of the added rows from the CSV"
    _neighbours_are_the_new_sets(after)
    fresh = tmp_path / "fresh"
    build_index(IndexOptions(new, LABELS, tiny_pack, fresh, workers=1))
    f = Bundle.open(fresh)
    for i, n in enumerate(names[12:], start=12):
        j = [m["filename"] for m in f.metadata].index(n)
        assert float(after.embedding(i) @ f.embedding(j)) > 0.999


def test_the_cli_and_its_refusals(bundle: Path, tiny_pack: Path, tmp_path: Path) -> None:
    listing = tmp_path / "withdrawn.txt"
    first = Bundle.open(bundle).metadata[0]["filename"]
    listing.write_text(f"# consent withdrawn\n{first}\n")
    cmd = [sys.executable, "-m", "medmir.cli", "index", "--update", str(bundle), "--model", str(tiny_pack)]
    done = subprocess.run([*cmd, "--remove", str(listing)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "11 images in the bundle: 11 kept, 1 removed" in " ".join(done.stderr.split())
    assert first not in [m["filename"] for m in Bundle.open(bundle).metadata]
    before = _all_bytes(bundle)
    for extra, msg in (([], "give --images to add, --remove to remove"),
                       (["--remove", str(listing), "--out", str(tmp_path / "x")], "leave out --out")):  # fmt: skip
        done = subprocess.run([*cmd, *extra], capture_output=True, text=True)
        assert done.returncode != 0 and msg in done.stderr and "Traceback" not in done.stderr
    everyone = {m["filename"] for m in Bundle.open(bundle).metadata}
    with pytest.raises(MedmirError, match="empty bundle"):
        update_index(bundle, tiny_pack, remove=everyone)
    assert _all_bytes(bundle) == before, "a refused update changes nothing"
