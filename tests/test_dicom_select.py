"""DICOM folders in `select` and `build`: de-identified by construction, no PHI out, bad files reported."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dicom_samples import (
    MODALITIES,
    SEXES,
    collection_uid,
    nih_pixels,
    phi_markers,
    write_collection,
    write_dicom,
)
from PIL import Image

from medmir.bundle.read import Bundle
from medmir.core.errors import MedmirError
from medmir.data.dicom_source import pseudonym
from medmir.data.generic import read_labels
from medmir.data.subset import DicomSettings, select
from medmir.imaging.decode import load_image

SALT = "a-test-salt-0123456789abcdef"
N = 24


def _image(uid: str) -> str:
    return pseudonym(SALT.encode(), "image", uid)


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMIR_SALT", SALT)


def _phi(n: int = N) -> list[bytes]:
    """Every value that must never leave: the markers, UIDs, the MRNs, full dates, folder and file names."""
    out = [m.encode() for i in range(n) for m in phi_markers(f"P{i}").values()]
    out += [collection_uid(i).encode() for i in range(n)] + [f"MRN{i:05d}".encode() for i in range(n)]
    out += [b"1.2.826.0.1.3680043.8.498", b"19610203", b"20190314", b"Smith", b"IM0003", SALT.encode()]
    return out


def _all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    out = []
    for f in sorted(root.rglob("*")):
        if f.is_file():
            data = f.read_bytes()
            if f.suffix == ".gz":
                data = gzip.decompress(data)
            elif f.suffix == ".br":
                import brotli

                data = brotli.decompress(data)
            out.append((f, data))
    return out


def test_medmir_build_on_dicom_leaks_no_phi_into_bundle_or_site(tiny_pack: Path, tmp_path: Path) -> None:
    from medmir.site.paths import WEB_DIST

    data = tmp_path / "dicom"
    write_collection(data)
    out = tmp_path / "out"
    env = {**os.environ, "MEDMIR_SALT": SALT}
    cmd = [sys.executable, "-m", "medmir.cli", "build", "--data", str(data), "--model", str(tiny_pack),
           "--out", str(out), "--app", str(WEB_DIST), "--workers", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    files = _all_bytes(out / "bundle") + _all_bytes(out / "site")
    assert len(files) > 20 and any(f.suffix == ".webp" or f.name.startswith("thumbs-") for f, _ in files)
    leaks = [(f, m) for f, data in files for m in _phi() if m in data]
    assert not leaks, leaks[:5]
    b = Bundle.open(out / "bundle")
    assert b.count == N
    rows = [b.metadata[i] for i in range(b.count)]
    # pseudonyms: the image's from its SOPInstanceUID, the patient's from PatientID (two images each)
    assert {r["filename"] for r in rows} == {
        f"{pseudonym(SALT.encode(), 'image', collection_uid(i))}.png" for i in range(N)
    }
    assert len({r["patient_id"] for r in rows}) == N // 2
    assert {r["facets"]["modality"] for r in rows} == set(MODALITIES)
    assert {r["facets"]["age_band"] for r in rows} == {"55-59", "90+", "30-34", "0-4"}
    assert {r["sex"] for r in rows} == set(SEXES) and {r["view"] for r in rows} == {r["facets"]["view"] for r in rows}
    assert all(r["age"] is None and r["facets"]["study_year"] == "2019" for r in rows)
    assert sum(1 for r in rows if r["labels"]) == N  # labels found by SOPInstanceUID


def _select(src: Path, out: Path, **kw: object) -> object:
    labels = src / "labels.csv"
    return select(src, labels if labels.exists() else None, out, dicom=DicomSettings(**kw))  # type: ignore[arg-type]


def test_pseudonyms_follow_the_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_collection(tmp_path / "d", 4)
    a = [r.filename for r in _select(tmp_path / "d", tmp_path / "a").selected]
    b = [r.filename for r in _select(tmp_path / "d", tmp_path / "b").selected]
    monkeypatch.delenv("MEDMIR_SALT")
    salt_file = tmp_path / "salt"
    c = [r.filename for r in _select(tmp_path / "d", tmp_path / "c", salt_file=salt_file).selected]
    assert a == b and set(a).isdisjoint(c)
    assert oct(salt_file.stat().st_mode & 0o777) == "0o600" and len(salt_file.read_text().strip()) == 64
    assert c == [r.filename for r in _select(tmp_path / "d", tmp_path / "c2", salt_file=salt_file).selected]
    kept = [r.filename for r in _select(tmp_path / "d", tmp_path / "k", keep_names=True).selected]
    assert kept == [f"IM{i:04d}.png" for i in range(4)]


def test_selected_pngs_hold_the_decoded_pixels_and_no_text(tmp_path: Path) -> None:
    write_collection(tmp_path / "d", 2)
    rep = _select(tmp_path / "d", tmp_path / "s")
    for r in rep.selected:
        png = tmp_path / "s" / "images" / r.filename
        assert Image.open(png).info == {} or set(Image.open(png).info) <= {"dpi"}
        uid = next(
            collection_uid(i) for i in range(2) if pseudonym(SALT.encode(), "image", collection_uid(i)) in r.filename
        )
        source = next((tmp_path / "d").rglob(f"IM{int(uid.split('.')[-2]) - 100:04d}"))
        assert np.array_equal(np.asarray(load_image(png)), np.asarray(load_image(source)))
    again = read_labels(tmp_path / "s" / "labels.csv")
    assert [dict(r.facets) for r in again] == [dict(r.facets) for r in rep.selected]


def test_burned_in_annotation_is_skipped_unless_allowed(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_dicom(d / "a.dcm", nih_pixels(0), uid_seed="1")
    write_dicom(d / "b.dcm", nih_pixels(1), uid_seed="2", tags={"BurnedInAnnotation": "YES"})
    rep = _select(d, tmp_path / "s")
    assert len(rep.selected) == 1
    assert [(Path(w).name, "BurnedInAnnotation" in why) for w, why in rep.skipped.items] == [("b.dcm", True)]
    assert len(_select(d, tmp_path / "s2", allow_burned_in=True).selected) == 2


def test_all_frames_gives_a_row_per_frame(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_dicom(d / "m.dcm", np.stack([nih_pixels(i) for i in range(3)]), uid_seed="1")
    assert len(_select(d, tmp_path / "one").selected) == 1
    rows = _select(d, tmp_path / "all", all_frames=True).selected
    base = pseudonym(SALT.encode(), "image", "1.2.826.0.1.3680043.8.498.1.1")
    assert [r.filename for r in rows] == [f"{base}-f{f:04d}.png" for f in range(3)]


def test_labels_by_file_name(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_dicom(d / "x" / "a.dcm", nih_pixels(0), uid_seed="1")
    write_dicom(d / "b.dcm", nih_pixels(1), uid_seed="2")
    (d / "labels.csv").write_text("filename,labels\nx/a.dcm,Effusion|Mass\nb.dcm,No Finding\n")
    rows = sorted(_select(d, tmp_path / "s").selected, key=lambda r: r.labels)
    assert [r.labels for r in rows] == [("Effusion", "Mass"), ("No Finding",)]


def test_bad_files_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    d = tmp_path / "d"
    tags = {"StudyTime": "120000", "SeriesNumber": 1, "StudyDate": "20190314"}
    good = [write_dicom(tmp_path / "src" / f"g{i}.dcm", nih_pixels(i), uid_seed=str(i + 1), phi=phi_markers("D"),
                        tags={**tags, "InstanceNumber": i + 1}) for i in range(3)]  # fmt: skip
    fs = FileSet()
    for g in good:
        fs.add(g)
    fs.write(d)  # a DICOMDIR tree: files without extension, found by their magic
    referenced = sorted(p for p in d.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    assert len(referenced) == 3
    referenced[0].unlink()  # the DICOMDIR now names a missing file
    whole = good[0].read_bytes()
    (d / "cut.dcm").write_bytes(whole[: len(whole) // 2])  # pixels cut: found only when decoding
    write_dicom(d / "nopix.dcm", nih_pixels(0), uid_seed="9")
    from pydicom import dcmread

    ds = dcmread(d / "nopix.dcm")
    del ds.PixelData
    ds.save_as(d / "nopix.dcm")
    out = tmp_path / "s"
    rep = _select(d, out)
    assert len(rep.selected) == 2
    reasons = {Path(what).name: why for what, why in rep.skipped.items}
    assert "which is not there" in reasons["DICOMDIR"]
    assert "truncated" in reasons["cut.dcm"] and "no pixel data" in reasons["nopix.dcm"]
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(r.filename for r in rep.selected)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_a_run_that_fails_writes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "junk.dcm").write_bytes(b"not dicom" * 40)
    with pytest.raises(MedmirError, match="no usable DICOM image"):
        _select(d, tmp_path / "s")
    assert not (tmp_path / "s").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_the_same_image_twice_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_dicom(d / "a.dcm", nih_pixels(0), uid_seed="1")
    write_dicom(d / "copy" / "a.dcm", nih_pixels(0), uid_seed="1")
    with pytest.raises(MedmirError, match="the same image"):
        _select(d, tmp_path / "s")


def test_search_takes_a_dicom_query(tiny_pack: Path, tmp_path: Path) -> None:
    import medmir

    write_collection(tmp_path / "d", 6)
    _select(tmp_path / "d", tmp_path / "s")
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    build_index(
        IndexOptions(tmp_path / "s" / "images", tmp_path / "s" / "labels.csv", tiny_pack, tmp_path / "b", workers=1)
    )
    col = medmir.open(tmp_path / "b", tiny_pack)
    query = next((tmp_path / "d").rglob("IM0002"))
    top = col.search(query, k=1)[0]
    assert top.filename == f"{pseudonym(SALT.encode(), 'image', collection_uid(2))}.png" and top.score > 0.999
    json.dumps([r.filename for r in col.search(query, k=3)])


def test_facet_filters_in_python_and_the_cli(tiny_pack: Path, tmp_path: Path) -> None:
    import medmir
    from medmir.api import Filters
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    write_collection(tmp_path / "d", 8)
    _select(tmp_path / "d", tmp_path / "s")
    for version in (1, 2):
        out = tmp_path / f"b{version}"
        build_index(IndexOptions(tmp_path / "s" / "images", tmp_path / "s" / "labels.csv", tiny_pack, out, workers=1,
                    bundle_format=version))  # fmt: skip
        col = medmir.open(out, tiny_pack)
        cr = col.search("effusion", k=8, filters=Filters(facets={"modality": ["CR"]}))
        assert len(cr) == 4 and all(col.bundle.metadata[r.row]["facets"]["modality"] == "CR" for r in cr)
        both = col.search("effusion", k=8, filters=Filters(facets={"modality": ["CR", "DX"], "age_band": ["90+"]}))
        assert {col.bundle.metadata[r.row]["facets"]["age_band"] for r in both} == {"90+"} and len(both) == 2
        assert col.search("effusion", k=8, filters=Filters(facets={"modality": ["MR"]})) == []
        with pytest.raises(MedmirError, match="unknown facet 'colour'"):
            col.search("effusion", filters=Filters(facets={"colour": ["red"]}))
    cmd = [sys.executable, "-m", "medmir.cli", "search", "--bundle", str(out), "--model", str(tiny_pack),
           "effusion", "--facet", "modality=CR", "--json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"filename"') == 4


def test_build_without_labels_indexes_and_skips_evaluation(tiny_pack: Path, tmp_path: Path) -> None:
    from medmir.cli.pipeline import build

    for i in range(3):
        write_dicom(tmp_path / "d" / f"{i}.dcm", nih_pixels(i), uid_seed=str(i + 1))
    logs: list[str] = []
    res = build(tmp_path / "d", str(tiny_pack), tmp_path / "out", workers=1, log=logs.append)
    assert Bundle.open(res.bundle).count == 3 and not (res.bundle / "metrics.json").exists()
    assert any("evaluate: skipped" in line for line in logs)
