"""A user's own collection: any folder of images plus a CSV with `filename,labels` (labels pipe-separated, any
vocabulary). medmir's own labels.csv is this format with optional columns filled in."""

from __future__ import annotations

from pathlib import Path

from medmir.data.nih import is_nih_csv, read_nih_labels
from medmir.data.records import (
    FACET_PREFIX,
    Record,
    Skipped,
    check_filename,
    csv_header,
    parse_age,
    read_csv_rows,
    split_labels,
)


def read_generic_labels(path: Path, skipped: Skipped | None = None) -> list[Record]:
    header, rows = read_csv_rows(path, ("filename", "labels"))
    facet_columns = [(h.removeprefix(FACET_PREFIX), h) for h in header if h.startswith(FACET_PREFIX)]
    skipped = skipped if skipped is not None else Skipped()
    out: list[Record] = []
    seen: set[str] = set()
    for i, row in rows:
        name = row["filename"]
        problem = check_filename(name)
        if problem:
            skipped.add(f"{path.name} line {i} ({name!r})", problem)
            continue
        if name in seen:
            skipped.add(f"{path.name} line {i} ({name})", "listed twice")
            continue
        seen.add(name)
        labels = split_labels(row["labels"])
        out.append(
            Record(
                filename=name,
                labels=labels,
                primary_label=row.get("primary_label") or (labels[0] if labels else ""),
                patient_id=row.get("patient_id", ""),
                age=parse_age(row.get("age", "")),
                sex=row.get("sex", ""),
                view=row.get("view_position", ""),
                facets=tuple((name, row[col]) for name, col in facet_columns if row[col]),
            )
        )
    return out


def read_labels(path: Path, skipped: Skipped | None = None) -> list[Record]:
    """Any label file medmir reads: the NIH release CSV, or filename,labels[,...] (medmir's labels.csv)."""
    if is_nih_csv(csv_header(path)):
        return read_nih_labels(path, skipped)
    return read_generic_labels(path, skipped)
