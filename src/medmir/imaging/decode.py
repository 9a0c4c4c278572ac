"""Image decoding, model preprocessing and thumbnails.

Every image medmir touches goes through `load_image`, so thumbnails and embeddings see the same 8-bit RGB pixels.
`preprocess_for_model` reproduces open_clip's validation transform (the reference the model packs are checked
against) in NumPy, so indexing needs neither torch nor torchvision.
"""

from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from medmir.core.errors import MedmirError
from medmir.imaging import dicom

# The size rule, shared with the browser (web/src/lib/imageLimits.ts, pinned equal by web/test/upload.test.ts):
# - MAX_SIDE: large radiographs (full-field mammograms, long-leg films) reach ~10k px a side; 20000 leaves headroom.
# - MAX_ASPECT: the longer side at most 20x the shorter. Stitched long-leg / full-spine films are below 1:5. Without
#   it a 1 KB PNG of 1,000,000 x 1 pixels passes a pixel cap, but the model's shorter-side resize (to S) makes it
#   S x S*1,000,000 (150 GB at S = 224); with it that intermediate is at most S x 20*S (3 MB at 224).
_LIMITS = json.loads(resources.files("medmir.resources").joinpath("image_limits.json").read_text(encoding="utf-8"))
MAX_SIDE: int = _LIMITS["max_side"]
MAX_ASPECT: int = _LIMITS["max_aspect"]
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # implied by MAX_SIDE; the browser has a lower pixel cap for its memory

# Pillow warns above MAX_IMAGE_PIXELS and refuses at twice that, before we could report it ourselves. Raise its
# limit (never lower it, and leave a disabled limit disabled) so `load_image` makes the call with a clear message.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_RGB_CONVERTIBLE = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
INT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_PIPELINE = ["to_rgb", "resize_shorter_side", "center_crop", "scale", "normalize"]


class ImageReadError(MedmirError):
    """A file that cannot be decoded into an image; `path` and `reason` are kept for reports."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type[ImageReadError], tuple[Path, str]]:
        # The default pickling replays self.args (one message) into a two-argument __init__; worker processes need this.
        return (type(self), (self.path, self.reason))


def load_image(path: Path) -> Image.Image:
    """Decode `path` fully into an 8-bit RGB image, or raise ImageReadError naming the file and the reason.

    Decisions:
    - The whole file is decoded here (`.load()`), and PNG chunk checksums are verified, so truncated or corrupt
      files fail here rather than later or silently with wrong pixels.
    - EXIF orientation is applied (`ImageOps.exif_transpose`): pixels come out the way viewers show them.
    - Alpha (RGBA, LA, PA, palette transparency) is dropped, exactly as `Image.convert("RGB")` does: colour values
      under transparent pixels are kept, nothing is composited. open_clip's transform does `convert("RGB")`, so
      thumbnails and embeddings agree with the model reference.
    - 16-bit and 32-bit integer grayscale (I;16, I;16B, I) are scaled linearly by their detected bit depth:
      `bits = max(8, max_value.bit_length())`, `out = round(v * 255 / (2**bits - 1))`. Full-range 16-bit data
      is thus divided by 257; 12-bit data stored in 16 bits (common for radiographs) is divided by 4095/255
      instead of coming out 16x too dark; data that fits 8 bits is unchanged. No per-image contrast stretch
      (min-max or percentile windowing) is applied: black stays black, and one image's intensities keep their
      meaning. Limitation: a 12-bit image whose brightest pixel is below 2048 is treated as 11-bit (2x brighter).
      Negative values (signed 32-bit) are clipped to 0.
    - CMYK, YCbCr, 1-bit and palette images use Pillow's plain conversion (no ICC colour management).
    - Multi-frame files (GIF, multi-page TIFF) give their first frame. Float (F) images are refused: they carry
      no intensity range to map.
    - DICOM files (by name or by their 'DICM' magic) are decoded by `medmir.imaging.dicom` (docs/DICOM.md): their middle
      frame, windowed to 8 bits by the rule the browser shares.
    - Images with a side above MAX_SIDE (20000) or a longer side above MAX_ASPECT (20) times the shorter are refused
      from their header, before decoding (`size_problem`): a tiny file must not take all memory or minutes.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not an image file") from None
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    if dicom.is_dicom(path, data[: dicom.PREAMBLE + 4]):
        return Image.fromarray(dicom.load(path, data), mode="RGB")

    try:
        with warnings.catch_warnings():
            # Between Pillow's limit and twice it Pillow only warns; the size check below reports it instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a recognised image format (unknown or damaged header)") from None
    except Image.DecompressionBombError as exc:
        # Pillow refuses above twice its limit (raised to MAX_PIXELS above), before we see the size: such an image
        # always breaks MAX_SIDE, so say that, with Pillow's pixel count but not its (different) limit.
        m = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(m.group(1)):,} pixels" if m else f"more than {2 * MAX_PIXELS:,} pixels"
        raise ImageReadError(path, f"image too large: {count}; {_SIDE_RULE}") from None
    except Exception as exc:  # Pillow's plugins raise many types (SyntaxError, ValueError, struct.error) on bad headers
        raise ImageReadError(path, f"unreadable image header: {exc}") from None

    w, h = img.size
    problem = size_problem(w, h)
    if problem:
        raise ImageReadError(path, problem)

    try:
        img.load()
    except Exception as exc:  # any failure while decoding pixels means the file is damaged
        raise ImageReadError(path, _decode_reason(exc)) from None
    try:
        # Pixel data can decode "fine" from a damaged deflate stream; verify() checks every PNG chunk CRC.
        Image.open(io.BytesIO(data)).verify()
    except Exception as exc:
        raise ImageReadError(path, _decode_reason(exc)) from None

    try:
        img = ImageOps.exif_transpose(img)
    except Exception as exc:  # a malformed EXIF block must not crash a whole run
        raise ImageReadError(path, f"malformed EXIF orientation data: {exc}") from None
    return to_rgb8(img, path)


def to_rgb8(img: Image.Image, path: Path | str = "<image>") -> Image.Image:
    """Convert an already decoded image to 8-bit RGB with the rules documented in `load_image`."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in INT_MODES:
        return Image.fromarray(int_to_uint8(np.asarray(img)), mode="L").convert("RGB")
    if mode in _RGB_CONVERTIBLE:
        if mode == "P" and "transparency" in img.info:
            # Same pixels as convert("RGB"); going through RGBA avoids Pillow's warning for byte transparency.
            return img.convert("RGBA").convert("RGB")
        return img.convert("RGB")
    raise ImageReadError(path, f"unsupported pixel format (mode {mode})")


def int_to_uint8(a: np.ndarray) -> np.ndarray:
    v = np.clip(a.astype(np.int64), 0, None)
    bits = max(8, int(v.max(initial=0)).bit_length())
    d = (1 << bits) - 1
    # Integer round-half-up: exact for every input, no float rounding surprises at the 0.5 boundaries.
    return ((v * 255 * 2 + d) // (2 * d)).astype(np.uint8)


_SIDE_RULE = f"each side may be at most {MAX_SIDE:,} pixels"


def size_problem(w: int, h: int) -> str | None:
    """Why a w x h image is refused, or None. The browser's `sizeProblem` gives the same answer and text."""
    if w <= 0 or h <= 0:
        return f"image has no pixels ({w}x{h})"
    if max(w, h) > MAX_SIDE:
        return f"image too large: {w}x{h}; {_SIDE_RULE}"
    if max(w, h) > MAX_ASPECT * min(w, h):  # integers: exact, as in the browser
        return f"image too elongated: {w}x{h}; the longer side may be at most {MAX_ASPECT} times the shorter"
    return None


def _decode_reason(exc: Exception) -> str:
    msg = str(exc) or type(exc).__name__
    if "truncat" in msg.lower():
        return f"truncated file: {msg}"
    return f"corrupt image data: {msg}"


def _spec_fields(spec: Mapping[str, Any]) -> tuple[int, np.ndarray, np.ndarray]:
    size = spec.get("image_size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise MedmirError(f"preprocess spec: image_size must be a positive integer, got {size!r}")
    arrays = []
    for key in ("mean", "std"):
        val = spec.get(key)
        if not isinstance(val, Sequence) or len(val) != 3 or not all(isinstance(x, int | float) for x in val):
            raise MedmirError(f"preprocess spec: {key} must be a list of 3 numbers, got {val!r}")
        arrays.append(np.asarray(val, dtype=np.float32).reshape(3, 1, 1))
    if np.any(arrays[1] == 0):
        raise MedmirError(f"preprocess spec: std must be non-zero, got {spec['std']!r}")
    steps = spec.get("steps")
    if steps is not None:
        # A manifest describing another pipeline must not be silently run through this one.
        ok = isinstance(steps, list) and all(isinstance(s, dict) for s in steps)
        ops = [s.get("op") for s in steps] if ok else steps
        if ops != _PIPELINE:
            raise MedmirError(f"preprocess spec: unsupported steps {ops!r}, expected {_PIPELINE}")
        resize = steps[1]
        if resize.get("interpolation", "bicubic") != "bicubic" or resize.get("size", size) != size:
            raise MedmirError(f"preprocess spec: unsupported resize step {resize!r}")
    return size, arrays[0], arrays[1]


def preprocess_for_model(img: Image.Image, spec: Mapping[str, Any]) -> np.ndarray:
    """float32 [3, S, S] model input, equal to open_clip's `image_transform(S, is_train=False, mean, std)`.

    Steps, as torchvision does them on PIL images: convert to RGB; resize so the shorter side is S with PIL
    BICUBIC (the longer side becomes `int(S * long / short)`, truncated, as torchvision computes it; an image whose
    shorter side already is S is not resampled); centre-crop S x S at `int(round((h - S) / 2))`; divide by 255;
    subtract `mean` and divide by `std` in float32.

    One deliberate difference: the image is converted to RGB first, where open_clip converts after resizing. For
    grayscale and opaque images the result is identical; for images with real transparency Pillow resamples
    RGBA with premultiplied alpha, so open_clip's result depends on alpha, ours does not (alpha is dropped, as
    `load_image` does everywhere).
    """
    size, mean, std = _spec_fields(spec)
    img = img if img.mode == "RGB" else to_rgb8(img)
    w, h = img.size
    problem = size_problem(w, h)
    if problem:  # `load_image` refuses these already; this guards other callers against the huge resize
        raise ImageReadError("<image>", problem)
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    # torchvision's offsets: round() of a float, i.e. banker's rounding on exact halves.
    top = round((new_h - size) / 2.0)
    left = round((new_w - size) / 2.0)
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
    return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


def preprocess_batch(images: Sequence[Image.Image], spec: Mapping[str, Any]) -> np.ndarray:
    """float32 [n, 3, S, S]: `preprocess_for_model` on each image (n may be 0)."""
    size, _, _ = _spec_fields(spec)
    if not images:
        return np.empty((0, 3, size, size), dtype=np.float32)
    return np.stack([preprocess_for_model(im, spec) for im in images])


def make_thumbnail(img: Image.Image, max_side: int = 256) -> Image.Image:
    """An RGB copy whose longest side is at most `max_side`, aspect ratio kept, LANCZOS; never upscaled.

    The short side is rounded to the nearest pixel (at least 1). A plain LANCZOS resize is used rather than
    `Image.thumbnail`, whose default `reducing_gap` trades accuracy for speed.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    img = img if img.mode == "RGB" else to_rgb8(img)
    w, h = img.size
    longest = max(w, h)
    if longest <= max_side:
        return img.copy()
    scale = max_side / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    size = (max_side, size[1]) if w >= h else (size[0], max_side)
    return img.resize(size, Image.Resampling.LANCZOS)


def encode_webp(img: Image.Image, quality: int = 85, method: int = 6) -> bytes:
    """Lossy WebP bytes, no metadata (no EXIF, no ICC): thumbnails must not carry patient data from the source."""
    buf = io.BytesIO()
    img.save(buf, format="WEBP", quality=quality, method=method)
    return buf.getvalue()
