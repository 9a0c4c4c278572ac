"""One image's labels and demographics, and the labels.csv that `select` writes and `index` reads."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_bytes

LABELS_COLUMNS = ("filename", "labels", "primary_label", "patient_id", "age", "sex", "view_position")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Record:
    filename: str
    labels: tuple[str, ...]
    primary_label: str = ""
    patient_id: str = ""
    age: int | None = None
    sex: str = ""
    view: str = ""
    # (name, value) pairs from DICOM tags (modality, body_part, view, age_band, study_year: docs/DICOM.md)
    facets: tuple[tuple[str, str], ...] = ()

    @property
    def report(self) -> str:
        """A report snippet synthesised from the labels (the NIH release has no report text)."""
        names = [display_label(lab) for lab in self.labels]
        return f"Findings: {', '.join(names)}." if names else "Findings: none recorded."


@dataclass
class Skipped:
    """Rows or files left out, with the reason; stages report these instead of crashing."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, what: str, why: str) -> None:
        self.items.append((what, why))

    def __len__(self) -> int:
        return len(self.items)


def nih_label_names() -> list[str]:
    return list(_nih_labels()["labels"])


def _nih_labels() -> dict:
    return json.loads(resources.files("medmir.resources.labels").joinpath("nih.json").read_text(encoding="utf-8"))


def display_label(label: str) -> str:
    return _nih_labels()["display"].get(label, label.replace("_", " "))


def check_filename(name: str) -> str | None:
    """Why `name` cannot be an image file name in a bundle, or None when it is fine."""
    if not name or name != name.strip():
        return "empty name or surrounding spaces"
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        return "path separators or a leading dot are not allowed in a file name"
    if any(ord(c) < 32 for c in name):
        return "control characters in the file name"
    if Path(name).suffix.lower() in (".dcm", ".dicom"):
        return "a DICOM file: DICOM folders go through `medmir select` (or `build`), which de-identifies them"
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        return f"not an image file name (expected one of {', '.join(IMAGE_SUFFIXES)})"
    return None


def split_labels(text: str) -> tuple[str, ...]:
    """Pipe-separated labels, trimmed, empty parts dropped, first occurrence order kept."""
    seen: dict[str, None] = {}
    for part in text.split("|"):
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return tuple(seen)


def parse_age(text: str) -> int | None:
    """NIH ages: plain years in the 2020 file, '058Y' in the 2017 file; anything else is unknown."""
    m = re.fullmatch(r"0*(\d+)\s*[Yy]?", text.strip())
    return int(m.group(1)) if m else None


def open_text(path: Path) -> io.TextIOBase:
    """A CSV file, plain or gzip, decoded as UTF-8 (with or without a BOM)."""
    if not path.is_file():
        raise MedmirError(f"{path}: file not found")
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MedmirError(f"{path}: not a valid gzip file ({exc})") from exc
    try:
        return io.StringIO(raw.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise MedmirError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def _quote_problem(exc: csv.Error) -> str:
    """csv's terse strict-mode messages, said in terms of what is wrong in the file."""
    msg = str(exc)
    if "unexpected end of data" in msg:
        return "unbalanced quote (a quoted field never closes)"
    if "expected after" in msg:
        return f"text after a closing quote ({msg}); quote the whole field or none of it"
    if "field larger than field limit" in msg:
        return f"a field longer than {csv.field_size_limit()} characters; an unbalanced quote?"
    return msg


def csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every non-blank record of a CSV.

    Strict parsing: a lenient reader lets one stray quote swallow every row after it into a single field, and the
    file then reads as if its images were missing. Here such a quote is an error naming the line it opens on.
    """
    reader = csv.reader(open_text(path), strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise MedmirError(f"{path} line {start}: {_quote_problem(exc)}") from exc
        if fields:
            yield start, fields
        start = reader.line_num + 1


def csv_header(path: Path) -> list[str]:
    """The first record's column names, trimmed; [] for an empty file."""
    first = next(csv_records(path), None)
    return [h.strip() for h in first[1]] if first else []


def _as_row(header: list[str], fields: list[str]) -> dict[str, str]:
    padded = fields + [""] * (len(header) - len(fields))  # a short row's missing fields read as ""
    return {k: v.strip() for k, v in zip(header, padded, strict=False)}  # extra fields are dropped


def read_csv_rows(path: Path, required: Sequence[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs; a file without rows is an error, never an empty label list."""
    records = csv_records(path)
    first = next(records, None)
    if first is None:
        raise MedmirError(f"{path}: empty file, no header line")
    header = [h.strip() for h in first[1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise MedmirError(f"{path}: missing column(s) {', '.join(missing)} (found {', '.join(header) or 'none'})")
    rows = [(line, _as_row(header, fields)) for line, fields in records]
    if not rows:
        raise MedmirError(f"{path}: only a header line, no rows")
    return header, rows


FACET_PREFIX = "facet:"


def facet_names(records: Iterable[Record]) -> list[str]:
    """Every facet name the records carry, sorted."""
    return sorted({name for r in records for name, _ in r.facets})


def write_labels_csv(path: Path, records: Iterable[Record]) -> None:
    """labels.csv; facets, when any record has them, as extra `facet:<name>` columns."""
    records = list(records)
    names = facet_names(records)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*LABELS_COLUMNS, *(FACET_PREFIX + n for n in names)])
    for r in records:
        have = dict(r.facets)
        w.writerow(
            [
                r.filename,
                "|".join(r.labels),
                r.primary_label,
                r.patient_id,
                "" if r.age is None else r.age,
                r.sex,
                r.view,
                *(have.get(n, "") for n in names),
            ]
        )
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))
