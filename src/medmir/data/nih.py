"""The official NIH ChestX-ray14 release: its label file and however its archives unpack on disk."""

from __future__ import annotations

from pathlib import Path

from medmir.core.errors import MedmirError
from medmir.data.records import Record, Skipped, check_filename, nih_label_names, parse_age, read_csv_rows

NIH_COLUMNS = ("Image Index", "Finding Labels", "Patient ID", "Patient Age", "Patient Gender", "View Position")
LABEL_FILES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")


def find_label_file(folder: Path) -> Path:
    """The NIH label CSV in `folder` (either release, plain or .gz)."""
    for name in LABEL_FILES:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise MedmirError(f"{folder}: no NIH label file ({' or '.join(LABEL_FILES)}, optionally .gz)")


def is_nih_csv(header: list[str]) -> bool:
    return "Image Index" in header and "Finding Labels" in header


def read_nih_labels(path: Path, skipped: Skipped | None = None) -> list[Record]:
    """Rows of Data_Entry_2017(_v2020).csv as records; unknown labels or bad names are skipped and reported."""
    _, rows = read_csv_rows(path, NIH_COLUMNS)
    known = set(nih_label_names())
    skipped = skipped if skipped is not None else Skipped()
    out: list[Record] = []
    seen: set[str] = set()
    for i, row in rows:
        name = row["Image Index"]
        labels = tuple(dict.fromkeys(lab.strip() for lab in row["Finding Labels"].split("|") if lab.strip()))
        problem = check_filename(name)
        unknown = [lab for lab in labels if lab not in known]
        if problem:
            skipped.add(f"{path.name} line {i} ({name!r})", problem)
        elif not labels:
            skipped.add(f"{path.name} line {i} ({name})", "no labels")
        elif unknown:
            skipped.add(f"{path.name} line {i} ({name})", f"unknown NIH label(s) {', '.join(unknown)}")
        elif name in seen:
            skipped.add(f"{path.name} line {i} ({name})", "listed twice")
        else:
            seen.add(name)
            out.append(
                Record(
                    filename=name,
                    labels=labels,
                    patient_id=row["Patient ID"],
                    age=parse_age(row["Patient Age"]),
                    sex=row["Patient Gender"],
                    view=row["View Position"],
                )
            )
    return out


def index_images(root: Path, suffixes: tuple[str, ...] = (".png",)) -> dict[str, Path]:
    """Map file name -> path for every image under `root`, flat or nested (images_001/images/...).

    The same name in two places is an error naming both, since a label row could not say which it means.
    """
    if not root.is_dir():
        raise MedmirError(f"{root}: image folder not found")
    found: dict[str, Path] = {}
    clashes: list[str] = []
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file():
            if p.name in found:
                clashes.append(f"{found[p.name]} and {p}")
            else:
                found[p.name] = p
    if clashes:
        raise MedmirError(
            f"{root}: {len(clashes)} file name(s) occur in more than one folder, e.g. {'; '.join(clashes[:3])}"
        )
    return found
