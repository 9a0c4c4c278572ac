"""The select stage on the real NIH sample: balance, reproducibility, no duplicates, generic mode, bad input."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections import Counter
from pathlib import Path

import pytest
from conftest import NIH_SAMPLE

from medmir.core.errors import MedmirError
from medmir.data.generic import read_labels
from medmir.data.nih import find_label_file, index_images, read_nih_labels
from medmir.data.records import Record, Skipped, nih_label_names, parse_age
from medmir.data.subset import balanced_subset, select

LABELS = NIH_SAMPLE / "Data_Entry_2017_v2020.csv.gz"
IMAGES = NIH_SAMPLE / "images"
NIH_HEADER = "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position\n"


def test_reads_the_full_nih_label_file() -> None:
    records = read_nih_labels(LABELS)
    assert len(records) == 112_120
    assert {lab for r in records for lab in r.labels} == set(nih_label_names())
    r = next(r for r in records if r.filename == "00000001_000.png")
    assert r.labels == ("Cardiomegaly",) and r.patient_id == "1" and r.age == 57 and r.sex == "M" and r.view == "PA"


def test_select_is_balanced_reproducible_and_unique(tmp_path: Path) -> None:
    a = select(IMAGES, LABELS, tmp_path / "a", per_label=8, seed=7)
    b = select(IMAGES, LABELS, tmp_path / "b", per_label=8, seed=7)
    c = select(IMAGES, LABELS, tmp_path / "c", per_label=8, seed=8)
    names = [r.filename for r in a.selected]
    assert names == [r.filename for r in b.selected]
    assert names != [r.filename for r in c.selected]
    assert len(names) == len(set(names))
    assert a.pool == 400 and a.missing_on_disk == 112_120 - 400
    # every label reaches its quota (the sample has at least 8 of each), and primary labels are balanced exactly
    assert all(a.per_label[lab] >= 8 for lab in nih_label_names())
    primary = Counter(r.primary_label for r in a.selected)
    assert set(primary) <= set(nih_label_names()) and all(v <= 8 for v in primary.values())
    rows = list(csv.DictReader((tmp_path / "a" / "labels.csv").open()))
    assert [r["filename"] for r in rows] == names
    assert set(rows[0]) == {"filename", "labels", "primary_label", "patient_id", "age", "sex", "view_position"}
    assert sorted(p.name for p in (tmp_path / "a" / "images").iterdir()) == sorted(names)
    assert (tmp_path / "a" / "images" / names[0]).read_bytes() == (IMAGES / names[0]).read_bytes()


def test_balanced_subset_rules() -> None:
    pool = [Record(f"{i}.png", labs, patient_id=str(i // 2)) for i, labs in enumerate(
        [("A",), ("A", "B"), ("B",), ("C",), ("A",), ("C", "A"), ("B",), ("A",)]
    )]  # fmt: skip
    chosen = balanced_subset(pool, 1, seed=0)
    counts = Counter(lab for r in chosen for lab in r.labels)
    assert all(counts[lab] >= 1 for lab in "ABC")
    assert len({r.filename for r in chosen}) == len(chosen)
    # rarest label first: C (2 images) picks before B (3) and A (5)
    assert chosen and {r.primary_label for r in chosen} <= {"A", "B", "C"}
    one = balanced_subset(pool, 3, seed=0, one_per_patient=True)
    assert len({r.patient_id for r in one}) == len(one)
    with pytest.raises(MedmirError, match="at least 1"):
        balanced_subset(pool, 0)


def test_nested_nih_layout_and_gzip_or_plain(tmp_path: Path) -> None:
    src = tmp_path / "nih"
    names = sorted(p.name for p in IMAGES.iterdir())[:6]
    for i, n in enumerate(names):
        d = src / f"images_00{1 + i % 2}" / "images"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(IMAGES / n, d / n)
    (src / "Data_Entry_2017.csv").write_bytes(gzip.decompress(LABELS.read_bytes()))
    assert find_label_file(src) == src / "Data_Entry_2017.csv"
    assert set(index_images(src)) == set(names)
    rep = select(src, find_label_file(src), tmp_path / "out")
    assert sorted(r.filename for r in rep.selected) == names


def test_generic_mode_keeps_any_vocabulary(tmp_path: Path) -> None:
    src = tmp_path / "mine"
    src.mkdir()
    names = sorted(p.name for p in IMAGES.iterdir())[:3]
    for n in names:
        shutil.copy(IMAGES / n, src / n)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "filename,labels\n"
        f"{names[0]},Lung opacity|Tube\n"
        f"{names[1]},<b>Weird</b> & label\n"
        f"{names[2]},\n"
        "../escape.png,Effusion\n"
        "missing.png,Effusion\n"
        f"{names[0]},Effusion\n",
        encoding="utf-8",
    )
    rep = select(src, csv_path, tmp_path / "out")
    by_name = {r.filename: r for r in rep.selected}
    assert by_name[names[0]].labels == ("Lung opacity", "Tube")
    assert by_name[names[1]].labels == ("<b>Weird</b> & label",)  # kept verbatim: it is data, never markup
    assert by_name[names[2]].labels == ()
    assert rep.missing_on_disk == 1
    reasons = dict(rep.skipped.items)
    assert any("path separators" in why for why in reasons.values())
    assert any("listed twice" in why for why in reasons.values())
    back = read_labels(tmp_path / "out" / "labels.csv")
    assert [r.labels for r in back] == [r.labels for r in rep.selected]


def test_bad_label_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,tags\nx.png,A\n", encoding="utf-8")
    with pytest.raises(MedmirError, match=r"bad\.csv: missing column\(s\) filename, labels"):
        select(IMAGES, bad, tmp_path / "o")
    nih_bad = tmp_path / "nih.csv"
    nih_bad.write_text("Image Index,Finding Labels\n00000075_000.png,Effusion\n", encoding="utf-8")
    with pytest.raises(MedmirError, match=r"missing column.*Patient ID"):
        select(IMAGES, nih_bad, tmp_path / "o")
    with pytest.raises(MedmirError, match="file not found"):
        select(IMAGES, tmp_path / "absent.csv", tmp_path / "o")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MedmirError, match="no images found"):
        select(empty, LABELS, tmp_path / "o")
    notgz = tmp_path / "x.csv.gz"
    notgz.write_bytes(b"plain text")
    with pytest.raises(MedmirError, match="not a valid gzip"):
        select(IMAGES, notgz, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_duplicate_names_in_nested_folders(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        shutil.copy(IMAGES / "00000075_000.png", tmp_path / d / "00000075_000.png")
    with pytest.raises(MedmirError, match="occur in more than one folder"):
        index_images(tmp_path)


def test_unknown_nih_label_is_skipped_and_reported(tmp_path: Path) -> None:
    p = tmp_path / "Data_Entry_2017.csv"
    p.write_text(
        NIH_HEADER + "00000075_000.png,Effusion|Alien,0,75,058Y,M,PA\n00000284_000.png,Hernia,0,284,61,F,PA\n",
        encoding="utf-8",
    )
    sk = Skipped()
    recs = read_nih_labels(p, sk)
    assert [r.filename for r in recs] == ["00000284_000.png"]
    assert "unknown NIH label(s) Alien" in sk.items[0][1]
    assert parse_age("058Y") == 58 and parse_age("") is None and parse_age("0") == 0


def test_label_files_that_would_lose_rows_name_the_file_and_line(tmp_path: Path) -> None:
    names = sorted(p.name for p in IMAGES.iterdir())[:3]
    cases = {
        "filename,labels\n": r"labels\.csv: only a header line, no rows",
        "filename,labels\r\n\r\n": r"labels\.csv: only a header line, no rows",
        NIH_HEADER: r"labels\.csv: only a header line, no rows",
        "": r"labels\.csv: empty file, no header line",
        f'filename,labels\n{names[0]},A\n{names[1]},"B\n{names[2]},C\n': r"labels\.csv line 3: unbalanced quote",
        f'filename,labels\n{names[0]},A\n\n"{names[1]}"x,B\n': r"labels\.csv line 4: text after a closing quote",
    }
    p = tmp_path / "labels.csv"
    for text, message in cases.items():
        p.write_text(text, encoding="utf-8")
        with pytest.raises(MedmirError, match=message):
            select(IMAGES, p, tmp_path / "o")
        with pytest.raises(MedmirError, match=message):
            read_labels(p)  # what `medmir index` reads
    assert not (tmp_path / "o").exists()
    # a stray quote in a huge file overflows csv's field limit instead: still named as a quote problem
    p.write_text(f'filename,labels\n{names[0]},"A\n' + f"{names[1]},B\n" * 20_000, encoding="utf-8")
    with pytest.raises(MedmirError, match=r"labels\.csv line 2: a field longer than .* an unbalanced quote\?"):
        read_labels(p)


def test_skipped_rows_carry_their_real_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "labels.csv"
    p.write_text('filename,labels\n\na.png,"two\nlines"\n\n../b.png,X\nc.png\n', encoding="utf-8")
    sk = Skipped()
    recs = read_labels(p, sk)
    assert [(r.filename, r.labels) for r in recs] == [("a.png", ("two\nlines",)), ("c.png", ())]
    assert [what for what, _ in sk.items] == ["labels.csv line 6 ('../b.png')"]
