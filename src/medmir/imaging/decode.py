"""Image decoding, model preprocessing and thumbnails.

Every image medmir touches goes through `load_image`, so thumbnails and embeddings see the same 8-bit RGB pixels.
`preprocess_for_model` reproduces open_clip's validation transform (the reference the model packs are checked
against) in NumPy, so indexing needs neither torch nor torchvision.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from medmir.imaging import dicom
from medmir.imaging.errors import MAX_PIXELS, SIDE_RULE, ImageReadError, size_problem

if TYPE_CHECKING:  # only the type: the spec is made (and checked) where a manifest or config is read
    from medmir.model.manifest import PreprocessSpec

# Pillow warns above MAX_IMAGE_PIXELS and refuses at twice that, before we could report it ourselves. Raise its
# limit (never lower it, and leave a disabled limit disabled) so `load_image` makes the call with a clear message.
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_RGB_CONVERTIBLE = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
INT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


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
        raise ImageReadError(path, f"image too large: {count}; {SIDE_RULE}") from None
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


def _decode_reason(exc: Exception) -> str:
    msg = str(exc) or type(exc).__name__
    if "truncat" in msg.lower():
        return f"truncated file: {msg}"
    return f"corrupt image data: {msg}"


def preprocess_for_model(img: Image.Image, spec: PreprocessSpec) -> np.ndarray:
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
    size = spec.image_size
    mean, std = spec.normalization()
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


def preprocess_batch(images: Sequence[Image.Image], spec: PreprocessSpec) -> np.ndarray:
    """float32 [n, 3, S, S]: `preprocess_for_model` on each image (n may be 0)."""
    if not images:
        return np.empty((0, 3, spec.image_size, spec.image_size), dtype=np.float32)
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
