"""DICOM test files written from the shared NIH PNGs (nothing downloaded), one per case docs/DICOM.md names.

`write_dicom` builds one file with every PHI tag holding a marker string (`phi_markers`), so a test can prove no
marker reaches a bundle or a site. Run as a script (`python tests/dicom_samples.py OUT`) it writes every sample,
Python's decode of each as OUT/<name>.png and OUT/samples.json, for the browser's parity test (web/test/dicom*.ts).
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NIH = ROOT.parent / "shared" / "data" / "nih-sample" / "images"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"
PHI_TAGS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "AccessionNumber",
    "StudyID",
    "OperatorsName",
    "PerformingPhysicianName",
    "StationName",
    "StudyDescription",
    "SeriesDescription",
    "OtherPatientIDs",
    "PatientAddress",
    "DeviceSerialNumber",
)


def nih_pngs(n: int) -> list[Path]:
    return sorted(NIH.glob("*.png"))[:n]


def nih_pixels(i: int = 0, size: int | None = 256) -> np.ndarray:
    """uint8 [h, w] of the i-th shared NIH PNG (downsized to keep test files small)."""
    img = Image.open(nih_pngs(i + 1)[i]).convert("L")
    if size:
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img)


def phi_markers(tag_prefix: str) -> dict[str, str]:
    """A unique marker per PHI tag: a leak shows which tag leaked."""
    return {tag: f"ZQ{tag_prefix}T{j:02d}" for j, tag in enumerate(PHI_TAGS)}  # short: fits every tag's VR


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    bits_stored: int = 8,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    syntax: str = "1.2.840.10008.1.2.1",
    phi: dict[str, str] | None = None,
    tags: dict[str, Any] | None = None,
    uid_seed: str = "1",
) -> Path:
    """One DICOM file: `pixels` uint8/uint16/int16 [h, w], [h, w, 3] or [frames, h, w]; encoded in `syntax`."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    frames = pixels.ndim == 3 and photometric.startswith("MONO")
    colour = photometric in ("RGB", "YBR_FULL")
    bits_alloc = 8 if pixels.dtype.itemsize == 1 else 16
    ds = Dataset()
    ds.SOPClassUID = DX_IMAGE if not colour else SECONDARY_CAPTURE
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.{uid_seed}.1"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{uid_seed}.2"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.{uid_seed}.3"
    ds.Modality = "DX"
    ds.PatientSex = "F"
    ds.PatientAge = "058Y"
    ds.StudyDate = "20190314"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    for tag, value in (phi or {}).items():
        setattr(ds, tag, value if not tag.endswith("Date") else "19610203")
    ds.Rows, ds.Columns = pixels.shape[1:3] if frames else pixels.shape[:2]
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if colour:
        ds.PlanarConfiguration = 0
    if frames:
        ds.NumberOfFrames = pixels.shape[0]
    for key, value in (tags or {}).items():
        setattr(ds, key, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    uid = UID(syntax)
    if uid == "1.2.840.10008.1.2.4.50":
        _encapsulate_jpeg(ds, pixels)
    elif uid.is_compressed:
        ds.compress(uid, np.ascontiguousarray(pixels), encoding_plugin="")
    elif uid != ExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = uid
        if uid == "1.2.840.10008.1.2.2":  # pydicom writes OW bytes as given: they must already be big endian
            ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True, little_endian=uid != "1.2.840.10008.1.2.2",
               implicit_vr=uid == "1.2.840.10008.1.2")  # fmt: skip
    return path


def _encapsulate_jpeg(ds: Any, pixels: np.ndarray) -> None:
    """JPEG Baseline: pydicom has no encoder for it, so Pillow's JPEG is encapsulated as the pixel data."""
    from pydicom.encaps import encapsulate

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"
    if ds.SamplesPerPixel == 3:
        ds.PhotometricInterpretation = "YBR_FULL_422"


SEXES, MODALITIES, AGES = ("F", "M", "O"), ("DX", "CR"), ("058Y", "093Y", "031Y", "004M")


def collection_uid(i: int) -> str:
    """The SOPInstanceUID of `write_collection`'s i-th image."""
    return f"1.2.826.0.1.3680043.8.498.{100 + i}.1"


def write_collection(folder: Path, n: int = 24) -> dict[str, str]:
    """n full-size DICOMs from the NIH PNGs, nested as a PACS export would be (a folder per patient name, files
    without extension), every PHI tag a marker, two images per PatientID, tags varied so that facets have several
    values; labels.csv keyed by SOPInstanceUID. Returns {uid: labels}."""
    import csv

    from medmir.data.nih import read_nih_labels

    nih = {r.filename: r for r in read_nih_labels(NIH.parent / "Data_Entry_2017_v2020.csv.gz")}
    rows = {}
    for i, png in enumerate(nih_pngs(n)):
        tags = {"PatientSex": SEXES[i % 3], "Modality": MODALITIES[i % 2], "PatientAge": AGES[i % 4]}
        write_dicom(folder / f"Smith^John-{i}" / f"IM{i:04d}", np.asarray(Image.open(png).convert("L")),
                    phi={**phi_markers(f"P{i}"), "PatientID": f"MRN{i // 2:05d}"}, tags=tags,
                    uid_seed=str(100 + i))  # fmt: skip
        rows[collection_uid(i)] = "|".join(nih[png.name].labels)
    with (folder / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sop_instance_uid", "labels"])
        w.writerows(rows.items())
    return rows


def twelve_bit(i: int) -> np.ndarray:
    p = nih_pixels(i).astype(np.uint16)
    return p * 16 + (p % 16)  # 12-bit values spanning the range


# name -> (writer, browser decodes it, bytes equal on both sides)
Sample = tuple[Callable[[Path], Path], bool, bool]


def samples() -> dict[str, Sample]:
    jpgext = Path(__import__("pydicom").__file__).parent / "data" / "test_files" / "JPGExtended.dcm"

    def copy_jpgext(p: Path) -> Path:
        p.write_bytes(jpgext.read_bytes())
        return p

    return {
        "mono2-8bit-percentile": (lambda p: write_dicom(p, nih_pixels(0)), True, True),
        "mono1-12bit-window": (
            lambda p: write_dicom(
                p,
                twelve_bit(1),
                bits_stored=12,
                photometric="MONOCHROME1",
                tags={"RescaleSlope": 2, "RescaleIntercept": -1024, "WindowCenter": 2000, "WindowWidth": 5000},
                uid_seed="2",
            ),
            True,
            True,
        ),
        "mono2-16bit-signed-linear-exact": (
            lambda p: write_dicom(
                p,
                (nih_pixels(2).astype(np.int16) * 100 - 12000),
                bits_stored=16,
                signed=True,
                tags={
                    "WindowCenter": 0,
                    "WindowWidth": 20000,
                    "VOILUTFunction": "LINEAR_EXACT",
                    "RescaleSlope": "1.5",
                    "RescaleIntercept": "10",
                },
                uid_seed="3",
            ),
            True,
            True,
        ),
        "mono2-sigmoid-implicit": (
            lambda p: write_dicom(
                p,
                twelve_bit(3),
                bits_stored=12,
                syntax="1.2.840.10008.1.2",
                tags={"WindowCenter": [2048, 1000], "WindowWidth": [3000, 500], "VOILUTFunction": "SIGMOID"},
                uid_seed="4",
            ),
            True,
            True,
        ),
        "multiframe-3": (
            lambda p: write_dicom(p, np.stack([nih_pixels(i) for i in (4, 5, 6)]), uid_seed="5"),
            True,
            True,
        ),
        "rle-12bit": (
            lambda p: write_dicom(p, twelve_bit(7), bits_stored=12, syntax="1.2.840.10008.1.2.5", uid_seed="6"),
            True,
            True,
        ),
        "jpeg2000-lossless": (
            lambda p: write_dicom(p, twelve_bit(8), bits_stored=12, syntax="1.2.840.10008.1.2.4.90", uid_seed="7"),
            True,
            True,
        ),
        "jpegls-lossless": (
            lambda p: write_dicom(p, twelve_bit(9), bits_stored=12, syntax="1.2.840.10008.1.2.4.80", uid_seed="8"),
            True,
            True,
        ),
        "jpeg-baseline": (
            lambda p: write_dicom(p, nih_pixels(10), syntax="1.2.840.10008.1.2.4.50", uid_seed="9"),
            True,
            False,
        ),
        "deflated": (
            lambda p: write_dicom(p, nih_pixels(11), syntax="1.2.840.10008.1.2.1.99", uid_seed="10"),
            True,
            True,
        ),
        "big-endian-16bit": (
            lambda p: write_dicom(p, twelve_bit(12), bits_stored=12, syntax="1.2.840.10008.1.2.2", uid_seed="11"),
            True,
            True,
        ),
        "rgb": (
            lambda p: write_dicom(p, np.stack([nih_pixels(13)] * 3, axis=2), photometric="RGB", uid_seed="12"),
            True,
            True,
        ),
        "jpeg-extended-12bit": (copy_jpgext, False, False),
    }


def write_all(out: Path) -> list[dict[str, Any]]:
    from medmir.imaging.decode import load_image
    from medmir.imaging.dicom import read, transfer_syntax

    out.mkdir(parents=True, exist_ok=True)
    listed = []
    for name, (write, browser, exact) in samples().items():
        path = write(out / f"{name}.dcm")
        load_image(path).save(out / f"{name}.png")
        uid = transfer_syntax(read(path, path.read_bytes(), pixels=False))
        listed.append({"name": name, "transfer_syntax": uid, "browser": browser, "exact": exact})
    (out / "samples.json").write_text(json.dumps(listed, indent=1), encoding="utf-8")
    return listed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/dicom_samples.py OUT")
    for s in write_all(Path(sys.argv[1])):
        print(s["name"], s["transfer_syntax"])
