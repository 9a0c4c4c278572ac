"""A folder of DICOM files as a collection, de-identified by construction (docs/DICOM.md).

Headers are read here and nowhere else. What leaves this module is an allow-list: a `Record` whose file name and
patient are salted pseudonyms, whose facets are a few sanitised tags, and the pixels, decoded and written as plain
PNGs by `write_images`. Everything else in the header (names, dates, institutions, UIDs) is never copied.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medmir.core.errors import MedmirError
from medmir.core.progress import OnProgress, task_progress
from medmir.data.records import Record, Skipped, read_csv_rows, split_labels
from medmir.imaging import dicom

SALT_ENV = "MEDMIR_SALT"
DEFAULT_SALT_FILE = Path.home() / ".config" / "medmir" / "dicom-salt"
_TAG_VALUE = re.compile(r"[A-Z0-9 _-]{1,16}")


@dataclass(frozen=True)
class DicomImage:
    """One row to be: its source file, the frame it takes (None: the middle one) and its de-identified record."""

    source: Path
    frame: int | None
    record: Record


def read_salt(salt_file: Path | None = None) -> bytes:
    """The user's salt: $MEDMIR_SALT, else `salt_file` (default ~/.config/medmir/dicom-salt), made on first use."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env.encode("utf-8")
    path = salt_file or DEFAULT_SALT_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    salt = path.read_bytes().strip()
    if len(salt) < 16:
        raise MedmirError(f"{path}: a salt must be at least 16 characters (it is what keeps pseudonyms unguessable)")
    return salt


def pseudonym(salt: bytes, kind: str, value: str) -> str:
    """The first 16 hex digits of HMAC-SHA256(salt, kind:value); '' for an empty value (unknown)."""
    if not value:
        return ""
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:16]


def find_dicom(folder: Path, skipped: Skipped) -> list[Path]:
    """DICOM files under `folder` (by name or magic), sorted; a DICOMDIR's missing references are reported."""
    if not folder.is_dir():
        raise MedmirError(f"{folder}: folder not found")
    found = []
    for path in sorted(_visible(folder)):
        if not path.is_file():
            continue
        if path.name.upper() == "DICOMDIR":
            _check_dicomdir(path, skipped)
        elif _is_dicom_file(path):
            found.append(path)
    return found


def _is_dicom_file(path: Path) -> bool:
    if path.suffix.lower() in dicom.DICOM_SUFFIXES:
        return True
    if path.suffix:
        return False
    try:
        with path.open("rb") as f:
            return dicom.is_dicom(path, f.read(dicom.PREAMBLE + 4))
    except OSError:
        return False


def _check_dicomdir(path: Path, skipped: Skipped) -> None:
    """Report every file a DICOMDIR names that is not there (the files that are there are found by the scan)."""
    try:
        ds = dicom.read(path, path.read_bytes(), pixels=False)
    except MedmirError as exc:
        skipped.add(str(path), str(exc).removeprefix(f"{path}: "))
        return
    for item in ds.get("DirectoryRecordSequence") or []:
        ref = item.get("ReferencedFileID")
        if not ref:
            continue
        parts = [str(p) for p in ref] if not isinstance(ref, str) else [ref]
        target = path.parent.joinpath(*parts)
        if not target.is_file():
            skipped.add(str(path), f"names {'/'.join(parts)}, which is not there")


def is_dicom_folder(folder: Path) -> bool:
    """Whether `folder` holds at least one DICOM file (then `select` reads it as a DICOM collection)."""
    if not folder.is_dir():
        return False
    return any(p.is_file() and (p.name.upper() == "DICOMDIR" or _is_dicom_file(p)) for p in _visible(folder))


def _visible(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        if not any(part.startswith(".") for part in path.relative_to(folder).parts):
            yield path


def read_dicom_labels(path: Path) -> dict[str, tuple[str, ...]]:
    """Labels keyed by file name (as in the folder, or its path inside it) or by SOPInstanceUID."""
    header, rows = read_csv_rows(path, ("labels",))
    key = next((k for k in ("sop_instance_uid", "filename") if k in header), None)
    if key is None:
        raise MedmirError(f"{path}: needs a 'filename' or 'sop_instance_uid' column to say which image a row labels")
    out: dict[str, tuple[str, ...]] = {}
    for line, row in rows:
        if row[key] in out:
            raise MedmirError(f"{path} line {line}: {row[key]!r} is listed twice")
        out[row[key]] = split_labels(row["labels"])
    return out


def tag_value(value: Any) -> str:
    """A tag as a facet value: upper-cased, `A-Z 0-9 _ -`, at most 16 characters; '' (unknown) otherwise."""
    text = str(value or "").strip().upper()
    return text if _TAG_VALUE.fullmatch(text) else ""


def age_band(ds: Any) -> str:
    """A 5-year band ('55-59'; '90+' from 90 on): the only form of age kept."""
    age = _age_years(ds)
    if age is None or age < 0 or age > 130:
        return ""
    return "90+" if age >= 90 else f"{age // 5 * 5}-{age // 5 * 5 + 4}"


def _age_years(ds: Any) -> int | None:
    m = re.fullmatch(r"(\d{3})([DWMY])", str(ds.get("PatientAge") or "").strip())
    if m:
        return int(m.group(1)) if m.group(2) == "Y" else 0
    birth, study = str(ds.get("PatientBirthDate") or ""), str(ds.get("StudyDate") or "")
    if re.fullmatch(r"\d{8}", birth) and re.fullmatch(r"\d{8}", study):
        return int(study[:4]) - int(birth[:4]) - (study[4:] < birth[4:])
    return None


def facets(ds: Any) -> tuple[tuple[str, str], ...]:
    year = str(ds.get("StudyDate") or "")[:4]
    pairs = (
        ("modality", tag_value(ds.get("Modality"))),
        ("body_part", tag_value(ds.get("BodyPartExamined"))),
        ("view", tag_value(ds.get("ViewPosition"))),  # also the row's `view`; a facet so that the site filters on it
        ("age_band", age_band(ds)),
        ("study_year", year if re.fullmatch(r"(19|20)\d\d", year) else ""),
    )
    return tuple((k, v) for k, v in pairs if v)


@dataclass(frozen=True)
class Options:
    salt: bytes
    keep_names: bool = False
    all_frames: bool = False
    allow_burned_in: bool = False


def dicom_images(
    folder: Path, labels: dict[str, tuple[str, ...]] | None, options: Options, skipped: Skipped
) -> list[DicomImage]:
    """Every usable image of the folder as de-identified rows; unreadable or refused files go to `skipped`."""
    files = find_dicom(folder, skipped)
    if not files and not len(skipped):
        raise MedmirError(f"{folder}: no DICOM files found")
    out: list[DicomImage] = []
    for path in files:
        try:
            ds = dicom.read(path, path.read_bytes(), pixels=False)
        except (MedmirError, OSError) as exc:
            skipped.add(str(path), str(exc).removeprefix(f"{path}: "))
            continue
        problem = _refusal(ds, options)
        if problem:
            skipped.add(str(path), problem)
            continue
        out.extend(_rows(folder, path, ds, labels, options))
    return out


def _refusal(ds: Any, options: Options) -> str | None:
    if "SOPInstanceUID" not in ds:
        return "no SOPInstanceUID (not an image instance)"
    if str(ds.get("BurnedInAnnotation") or "").strip().upper() == "YES" and not options.allow_burned_in:
        return "BurnedInAnnotation is YES: text in the pixels may identify the patient (--allow-burned-in to index it)"
    if int(ds.get("Rows") or 0) <= 0:
        return "no image (no Rows/Columns)"
    return None


def _rows(
    folder: Path, path: Path, ds: Any, labels: dict[str, tuple[str, ...]] | None, options: Options
) -> list[DicomImage]:
    sop = str(ds.SOPInstanceUID)
    rel = path.relative_to(folder).as_posix()
    found = None if labels is None else labels.get(sop, labels.get(rel, labels.get(path.name)))
    name = _safe_stem(path) if options.keep_names else pseudonym(options.salt, "image", sop)
    record = Record(
        filename=f"{name}.png",
        labels=found or (),
        primary_label=found[0] if found else "",
        patient_id=pseudonym(options.salt, "patient", str(ds.get("PatientID") or "")),
        sex=tag_value(ds.get("PatientSex")) if tag_value(ds.get("PatientSex")) in ("M", "F", "O") else "",
        view=tag_value(ds.get("ViewPosition")),
        facets=facets(ds),
    )
    frames = max(1, int(ds.get("NumberOfFrames") or 1))
    if not options.all_frames or frames == 1:
        return [DicomImage(path, None, record)]
    return [DicomImage(path, f, replace(record, filename=f"{name}-f{f:04d}.png")) for f in range(frames)]


def _safe_stem(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", path.stem if path.suffix.lower() in dicom.DICOM_SUFFIXES else path.name)


def write_images(
    items: list[DicomImage], out: Path, *, workers: int | None = None, on_progress: OnProgress | None = None
) -> Iterator[tuple[DicomImage, str | None]]:
    """Decode and write every item (in a pool of spawned processes when `workers` > 1); yields (item, failure).
    Progress goes to `on_progress` (task "decoding DICOM")."""
    from medmir.core.workers import spawn_pool

    n = min(workers or os.cpu_count() or 1, max(1, len(items)))
    advance = task_progress(on_progress, "decoding DICOM", len(items))
    if n == 1:
        results: Iterator[str | None] = (_write_one(item, out) for item in items)
        for item, failure in zip(items, results, strict=True):
            advance(1)
            yield item, failure
        return
    with spawn_pool(n) as pool:
        for item, failure in zip(items, pool.map(_write_one, items, [out] * len(items), chunksize=4), strict=True):
            advance(1)
            yield item, failure


def _write_one(item: DicomImage, out: Path) -> str | None:
    try:
        write_image(item, out)
    except MedmirError as exc:
        return str(exc).removeprefix(f"{item.source}: ")
    return None


def write_image(item: DicomImage, out: Path) -> None:
    """Decode `item`'s frame and write it as a PNG with no text chunks (grey when the pixels are grey)."""
    from PIL import Image

    from medmir.core.fsutil import atomic_write_bytes

    pixels = dicom.load(item.source, item.source.read_bytes(), item.frame)
    grey = bool((pixels[:, :, 0] == pixels[:, :, 1]).all() and (pixels[:, :, 1] == pixels[:, :, 2]).all())
    img = Image.fromarray(pixels[:, :, 0], mode="L") if grey else Image.fromarray(pixels, mode="RGB")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    atomic_write_bytes(out / item.record.filename, buf.getvalue())
