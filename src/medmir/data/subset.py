"""The select stage: a balanced, seeded subset of a labelled collection, written as labels.csv + images/."""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.core.progress import OnProgress
from medmir.data.dicom_source import DicomImage, is_dicom_folder
from medmir.data.generic import read_labels
from medmir.data.nih import index_images
from medmir.data.records import IMAGE_SUFFIXES, Record, Skipped, write_labels_csv


@dataclass
class SelectReport:
    selected: list[Record]
    per_label: Counter = field(default_factory=Counter)
    pool: int = 0
    missing_on_disk: int = 0
    skipped: Skipped = field(default_factory=Skipped)

    def summary(self) -> str:
        labels = ", ".join(f"{k} {v}" for k, v in sorted(self.per_label.items(), key=lambda kv: (-kv[1], kv[0])))
        return (
            f"{len(self.selected)} images selected from {self.pool} available "
            f"({self.missing_on_disk} listed but missing on disk, {len(self.skipped)} rows skipped). "
            f"Per label: {labels}"
        )


def balanced_subset(
    pool: Sequence[Record], per_label: int, *, seed: int = 42, one_per_patient: bool = False
) -> list[Record]:
    """Up to `per_label` images per label, rarest label first; a multi-label image counts toward each of its
    labels; never the same image twice. `primary_label` becomes the label whose quota picked the image.

    Deterministic for a given pool (sorted by file name here) and seed.
    """
    if per_label < 1:
        raise MedmirError(f"--per-label must be at least 1, got {per_label}")
    pool = sorted(pool, key=lambda r: r.filename)
    frequency = Counter(lab for r in pool for lab in r.labels)
    order = sorted(frequency, key=lambda lab: (frequency[lab], lab))
    rng = random.Random(seed)
    chosen: dict[str, Record] = {}
    have: Counter = Counter()
    patients: set[str] = set()
    for label in order:
        candidates = [r for r in pool if label in r.labels and r.filename not in chosen]
        rng.shuffle(candidates)
        for r in candidates:
            if have[label] >= per_label:
                break
            if one_per_patient and r.patient_id and r.patient_id in patients:
                continue
            chosen[r.filename] = replace(r, primary_label=label)
            have.update(r.labels)
            if r.patient_id:
                patients.add(r.patient_id)
    return sorted(chosen.values(), key=lambda r: r.filename)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: copy instead
        shutil.copyfile(src, dst)


@dataclass(frozen=True)
class DicomSettings:
    """How a DICOM folder is read (docs/DICOM.md); the salt is read only when the source is DICOM."""

    salt_file: Path | None = None
    keep_names: bool = False
    all_frames: bool = False
    allow_burned_in: bool = False


def select(
    source: Path,
    labels_csv: Path | None,
    out: Path,
    *,
    per_label: int | None = None,
    seed: int = 42,
    one_per_patient: bool = False,
    force: bool = False,
    dicom: DicomSettings | None = None,
    on_progress: OnProgress | None = None,
    workers: int | None = None,
) -> SelectReport:
    """Read labels (NIH or generic), keep rows whose image is on disk, pick the subset, write it atomically.

    Without `per_label` every available image is kept (a user's own collection, indexed whole). A folder of DICOM
    files is read by `select_dicom` (labels optional, keyed by file name or SOPInstanceUID).
    """
    if is_dicom_folder(source):
        settings = dicom or DicomSettings()
        return select_dicom(source, labels_csv, out, settings, per_label=per_label, seed=seed,
                            one_per_patient=one_per_patient, force=force, on_progress=on_progress,
                            workers=workers)  # fmt: skip
    if labels_csv is None:
        raise MedmirError(f"{source}: no label file given (a CSV with filename,labels)")
    report = SelectReport(selected=[])
    records = read_labels(labels_csv, report.skipped)
    if not records:
        raise MedmirError(f"{labels_csv}: no usable label rows")
    on_disk = index_images(source, IMAGE_SUFFIXES)
    if not on_disk:
        raise MedmirError(f"{source}: no images found")
    pool = [r for r in records if r.filename in on_disk]
    report.missing_on_disk = len(records) - len(pool)
    report.pool = len(pool)
    if not pool:
        raise MedmirError(f"{source}: none of the {len(records)} images listed in {labels_csv} is there")
    if per_label is None:
        chosen = [r if r.primary_label else replace(r, primary_label=r.labels[0] if r.labels else "") for r in pool]
    else:
        chosen = balanced_subset(pool, per_label, seed=seed, one_per_patient=one_per_patient)
    report.selected = chosen
    report.per_label = Counter(lab for r in chosen for lab in r.labels)
    with staging_dir(out, "select", inputs=[source, labels_csv], force=force) as tmp:
        (tmp / "images").mkdir()
        for r in chosen:
            _link_or_copy(on_disk[r.filename], tmp / "images" / r.filename)
        write_labels_csv(tmp / "labels.csv", chosen)
    return report


def select_dicom(
    source: Path,
    labels_csv: Path | None,
    out: Path,
    settings: DicomSettings,
    *,
    per_label: int | None = None,
    seed: int = 42,
    one_per_patient: bool = False,
    force: bool = False,
    on_progress: OnProgress | None = None,
    workers: int | None = None,
) -> SelectReport:
    """A DICOM folder, de-identified: pseudonymous PNGs and an allow-listed labels.csv (docs/DICOM.md). Labels come
    from `labels_csv`, else the folder's labels.csv when it has one; without either the images have none."""
    from medmir.data.dicom_source import Options, dicom_images, read_dicom_labels, read_salt, write_images

    report = SelectReport(selected=[])
    if labels_csv is None and (source / "labels.csv").is_file():
        labels_csv = source / "labels.csv"
    options = Options(read_salt(settings.salt_file), settings.keep_names, settings.all_frames, settings.allow_burned_in)
    labels = read_dicom_labels(labels_csv) if labels_csv is not None else None
    items = dicom_images(source, labels, options, report.skipped)
    _refuse_duplicates(items)
    report.pool = len(items)
    if labels is not None:
        report.missing_on_disk = max(0, len(labels) - sum(1 for i in items if i.record.labels))
    if not items:
        raise MedmirError(f"{source}: no usable DICOM image ({len(report.skipped)} files skipped)")
    by_name = {i.record.filename: i for i in items}
    records = [i.record for i in items]
    if per_label is not None and any(r.labels for r in records):
        records = balanced_subset(records, per_label, seed=seed, one_per_patient=one_per_patient)
    with staging_dir(out, "select", inputs=[source, *([labels_csv] if labels_csv else [])], force=force) as tmp:
        (tmp / "images").mkdir()
        written = []
        for item, failure in write_images([by_name[r.filename] for r in records], tmp / "images",
                                          workers=workers, on_progress=on_progress):  # fmt: skip
            if failure is None:
                written.append(item.record)
            else:
                report.skipped.add(str(item.source), failure)
        if not written:
            raise MedmirError(f"{source}: no DICOM image could be decoded ({len(report.skipped)} files skipped)")
        write_labels_csv(tmp / "labels.csv", written)
    report.selected = written
    report.per_label = Counter(lab for r in written for lab in r.labels)
    return report


def _refuse_duplicates(items: Sequence[DicomImage]) -> None:
    """Two files with one SOPInstanceUID (or, with --keep-names, one name) would be one row: say which."""
    seen: dict[str, Path] = {}
    for item in items:
        name = item.record.filename
        if name in seen and seen[name] != item.source:
            raise MedmirError(f"{item.source} and {seen[name]}: the same image (SOPInstanceUID or name) twice")
        seen[name] = item.source
