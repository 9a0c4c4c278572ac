"""DICOM pixels: from a file's stored values to the 8-bit image every other stage sees (docs/DICOM.md).

The rule (modality LUT, first VOI window or LUT, percentile window when there is none, MONOCHROME1 inverted) is
written out in float64 in the order docs/DICOM.md gives it, because the browser (web/src/lib/image/dicom/) computes the
same numbers in JavaScript and a query must get the same pixels on both sides. pydicom (with the pylibjpeg codecs)
decodes the compressed transfer syntaxes; every failure is an `ImageReadError` naming the file.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.imaging.errors import ImageReadError, size_problem

DICOM_SUFFIXES = (".dcm", ".dicom")
PREAMBLE = 128

# What Python decodes; the browser decodes all but JPEG Extended (docs/DICOM.md).
TRANSFER_SYNTAXES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline (8-bit)",
    "1.2.840.10008.1.2.4.51": "JPEG Extended (12-bit)",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless, First-Order Prediction (SV1)",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}
_MONO = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT")  # the JPEG 2000 ones: decoder converts


def is_dicom(path: Path, head: bytes) -> bool:
    """A DICOM file by its name (.dcm, .dicom) or by the 'DICM' magic after the 128-byte preamble."""
    return path.suffix.lower() in DICOM_SUFFIXES or head[PREAMBLE : PREAMBLE + 4] == b"DICM"


def read(path: Path | str, data: bytes, *, pixels: bool = True) -> Any:
    """The parsed dataset (pydicom `FileDataset`); `pixels=False` stops before the pixel data (headers only)."""
    # pydicom is imported here, not above: every image goes through this module's is_dicom, few are DICOM files
    import pydicom
    from pydicom.errors import InvalidDicomError

    magic = data[PREAMBLE : PREAMBLE + 4] == b"DICM"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # pydicom warns on many harmless deviations, and on a truncated file
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=not pixels, force=True)
            if pixels:
                _ = ds.get("PixelData")  # parse the (possibly truncated) pixel element now
    except InvalidDicomError as exc:
        raise ImageReadError(path, f"not a DICOM file: {exc}") from None
    except Exception as exc:  # pydicom raises many types on a damaged or truncated stream
        raise ImageReadError(path, f"truncated or corrupt DICOM file: {exc or type(exc).__name__}") from None
    ended = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
    if ended:
        raise ImageReadError(path, f"truncated DICOM file: {ended[0]}")
    if len(ds) == 0 or not (magic or "PixelData" in ds or "SOPClassUID" in ds):
        raise ImageReadError(path, "truncated or damaged DICOM file (no element could be read)" if magic else
                             "not a DICOM file (no DICM magic and no DICOM elements)")  # fmt: skip
    return ds


def transfer_syntax(ds: Any) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else "1.2.840.10008.1.2"  # no meta header: implicit VR little endian (PS3.5 A.1)


def syntax_name(uid: str) -> str:
    return f"{uid} ({TRANSFER_SYNTAXES.get(uid, 'unknown')})"


@dataclass(frozen=True)
class FrameInfo:
    rows: int
    columns: int
    frames: int


def frame_info(ds: Any, path: Path | str) -> FrameInfo:
    """Rows, Columns and NumberOfFrames, checked before any pixel is decoded."""
    if "PixelData" not in ds:
        raise ImageReadError(path, "no pixel data (PixelData) in this DICOM file")
    uid = transfer_syntax(ds)
    if uid not in TRANSFER_SYNTAXES:
        supported = ", ".join(TRANSFER_SYNTAXES)
        raise ImageReadError(path, f"unsupported transfer syntax {syntax_name(uid)}; supported: {supported}")
    pi = str(ds.get("PhotometricInterpretation", "")).strip()
    if pi not in _MONO + _COLOUR:
        raise ImageReadError(path, f"unsupported photometric interpretation {pi or '(none)'}")
    try:
        frames = int(ds.get("NumberOfFrames") or 1)
        return FrameInfo(int(ds.Rows), int(ds.Columns), max(1, frames))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImageReadError(path, f"missing or invalid image size tags: {exc}") from None


def middle_frame(frames: int) -> int:
    return frames // 2


def load(path: Path | str, data: bytes, frame: int | None = None) -> np.ndarray:
    """uint8 [rows, columns, 3] of a DICOM file's bytes; the size rule is checked before pixels are decoded."""
    ds = read(path, data)
    info = frame_info(ds, path)
    problem = size_problem(info.columns, info.rows)
    if problem:
        raise ImageReadError(path, problem)
    return decode(ds, path, frame)


def decode(ds: Any, path: Path | str, frame: int | None = None) -> np.ndarray:
    """uint8 [rows, columns, 3]: frame `frame` (default the middle one) by docs/DICOM.md's rule."""
    info = frame_info(ds, path)
    index = middle_frame(info.frames) if frame is None else frame
    if not 0 <= index < info.frames:
        raise ImageReadError(path, f"frame {index} does not exist ({info.frames} frames)")
    pi = str(ds.PhotometricInterpretation).strip()
    stored = _stored(ds, path, index, colour=pi in _COLOUR)
    if pi in _COLOUR:
        return _colour(stored, int(ds.get("BitsStored") or 8))
    y = _voi(ds, _modality(ds, stored))
    if pi == "MONOCHROME1":
        y = 1.0 - y
    grey = np.floor(y * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _stored(ds: Any, path: Path | str, index: int, *, colour: bool) -> np.ndarray:
    from pydicom.pixels import pixel_array  # lazy, as in `read`: only DICOM files need pydicom

    uid = transfer_syntax(ds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = pixel_array(ds, index=index, raw=not colour)
    except Exception as exc:  # codecs and pydicom raise many types; all mean this frame cannot be decoded
        reason = str(exc) or type(exc).__name__
        if any(word in reason.lower() for word in ("truncat", "insufficient", "less than expected")):
            raise ImageReadError(path, f"truncated pixel data ({syntax_name(uid)}): {reason}") from None
        raise ImageReadError(path, f"cannot decode pixel data ({syntax_name(uid)}): {reason}") from None
    arr = np.asarray(arr)
    if colour:
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ImageReadError(path, f"expected 3 samples per pixel, got shape {arr.shape}")
        return arr
    if arr.ndim != 2:
        raise ImageReadError(path, f"expected one sample per pixel, got shape {arr.shape}")
    return _bits_stored(arr.astype(np.int64), int(ds.get("BitsStored") or 16), int(ds.get("PixelRepresentation") or 0))


def _bits_stored(v: np.ndarray, bits: int, signed: int) -> np.ndarray:
    """Only the low `bits` bits are the value: mask them, and sign-extend when the samples are signed."""
    if not 1 <= bits <= 32:
        return v
    mask = (1 << bits) - 1
    v = v & mask
    if signed:
        sign = 1 << (bits - 1)
        v = (v ^ sign) - sign
    return v


def _colour(arr: np.ndarray, bits: int) -> np.ndarray:
    """8-bit RGB: samples masked to BitsStored; more than 8 bits scaled by round(v * 255 / (2^BitsStored - 1))."""
    bits = max(1, min(bits, 32))
    if arr.dtype == np.uint8 and bits >= 8:
        return arr
    v = arr.astype(np.int64) & ((1 << bits) - 1)
    if bits <= 8:
        return v.astype(np.uint8)
    return np.floor(v * 255.0 / ((1 << bits) - 1) + 0.5).astype(np.uint8)


def _lut(item: Any) -> tuple[np.ndarray, int, int]:
    """A LUT item's data, first mapped value and bit depth (LUTDescriptor: entries (0 = 65536), first, bits)."""
    n, first, bits = (int(x) for x in item.LUTDescriptor)
    data = item.LUTData
    values = np.asarray(data if not isinstance(data, bytes) else np.frombuffer(data, "<u2"), dtype=np.float64)
    values = values.reshape(-1)[: n or 65536]
    return values, first, bits


def _apply_lut(v: np.ndarray, values: np.ndarray, first: int) -> np.ndarray:
    idx = np.clip(np.floor(v).astype(np.int64) - first, 0, len(values) - 1)
    return values[idx]


def _modality(ds: Any, stored: np.ndarray) -> np.ndarray:
    seq = ds.get("ModalityLUTSequence")
    if seq:
        values, first, _ = _lut(seq[0])
        return _apply_lut(stored.astype(np.float64), values, first)
    slope = float(ds.get("RescaleSlope") or 1.0)
    intercept = float(ds.get("RescaleIntercept") or 0.0)
    return stored.astype(np.float64) * slope + intercept


def _first(value: Any) -> float | None:
    """The first value of a (possibly multi-valued) numeric element, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str | bytes | int | float):
        value = next(iter(value), None)  # pydicom's MultiValue
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def window(v: np.ndarray, c: float, w: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM's VOI window functions (PS3.3 C.11.2.1.2), y in [0, 1]."""
    if function == "LINEAR_EXACT":
        return np.clip((v - c) / w + 0.5, 0.0, 1.0)
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (v - c) / w))
    y = (v - (c - 0.5)) / (w - 1.0) + 0.5
    y = np.where(v <= c - 0.5 - (w - 1.0) / 2.0, 0.0, y)
    return np.where(v > c - 0.5 + (w - 1.0) / 2.0, 1.0, y)


def percentile_window(v: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(v, [0.5, 99.5])
    if hi == lo:
        return np.zeros_like(v, dtype=np.float64)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def _voi(ds: Any, v: np.ndarray) -> np.ndarray:
    c = _first(ds.get("WindowCenter"))
    w = _first(ds.get("WindowWidth"))
    if c is not None and w is not None and w >= 1.0:
        function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
        return window(v, c, w, function)
    seq = ds.get("VOILUTSequence")
    if seq:
        values, first, bits = _lut(seq[0])
        return _apply_lut(v, values, first) / float((1 << bits) - 1)
    return percentile_window(v)
