"""Write web/test/fixtures/preprocess/*.json: what web/src/worker/model/preprocess.ts must reproduce exactly.

Run: .venv/bin/python scripts/make_preprocess_fixtures.py [--out web/test/fixtures/preprocess]
The fixtures are committed; tests/test_preprocess_fixtures.py regenerates them in memory and fails on any drift
(a Pillow upgrade that changes BICUBIC output, a change to `medmir.imaging.decode.preprocess_for_model`).

Synthetic inputs are not stored: they come from a small integer hash (`hash_bytes`, re-implemented in
web/test/preprocess.test.ts) and each case records the input's sha256 so both sides provably start from the same
pixels. Expected uint8 outputs are stored in full (base64) when small, otherwise as sha256 plus sampled pixels;
pipeline cases store the tensor's sha256, sampled values and the 3 x 256 table of every float the pipeline can
produce, which pins the float arithmetic exactly. NIH pixels are never stored: the TypeScript test decodes the
PNGs from ../shared itself and only hashes and samples of the expected results are kept here.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medmir.imaging.decode import load_image, preprocess_for_model  # noqa: E402
from medmir.model.manifest import PreprocessSpec  # noqa: E402

OUT = ROOT / "web" / "test" / "fixtures" / "preprocess"
NIH_IMAGES = ROOT.parent / "shared" / "data" / "nih-sample" / "images"
NIH_FILES = ["00000075_000.png", "00000284_000.png"]
BIOMEDCLIP = {
    "image_size": 224,
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
}
FULL_MAX_PIXELS = 12_000  # expected images up to this many pixels are stored whole (36 KB raw)
N_SAMPLES = 96
M32 = 0xFFFFFFFF

Doc = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# deterministic synthetic pixels (mirrored in web/test/preprocess.test.ts)


def hash32(idx: np.ndarray, seed: int) -> np.ndarray:
    """A 32-bit integer hash of (index, seed), in uint64 arithmetic masked to 32 bits (JS: Math.imul, >>> 0)."""
    x = (idx.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64((seed * 0x85EBCA77) & M32)) & np.uint64(M32)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & np.uint64(M32)
    x ^= x >> np.uint64(12)
    x = (x * np.uint64(0x297A2D39)) & np.uint64(M32)
    x ^= x >> np.uint64(15)
    return x


def synth(pattern: str, seed: int, w: int, h: int) -> np.ndarray:
    """uint8 [h, w, 3]. noise: uniform bytes. smooth: wrapping gradients (hard edges at the wraps) + 3-bit noise."""
    n = w * h * 3
    r = (hash32(np.arange(n), seed) >> np.uint64(24)).astype(np.int64).reshape(h, w, 3)
    if pattern == "noise":
        return r.astype(np.uint8)
    if pattern == "smooth":
        y, x, c = np.mgrid[0:h, 0:w, 0:3]
        v = (x * 256) // w + (y * 128) // h + c * 85 + (r & 7)
        return (v & 255).astype(np.uint8)
    raise ValueError(pattern)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sample_idx(n: int, seed: int, k: int = N_SAMPLES) -> list[int]:
    """k positions in [0, n): first, last and hashed ones (sorted, unique)."""
    picks = {0, n - 1} | {int(v) % n for v in hash32(np.arange(k), seed + 7919)}
    return sorted(picks)


# ---------------------------------------------------------------------------------------------------------------
# the reference: Pillow and medmir.imaging.decode


def shorter_side_size(w: int, h: int, size: int) -> tuple[int, int]:
    """The target of `preprocess_for_model`'s resize (torchvision `Resize(int)`); checked against torchvision."""
    return (size, int(size * h / w)) if w <= h else (int(size * w / h), size)


def crop_offset(dim: int, size: int) -> int:
    return round((dim - size) / 2.0)  # torchvision: int(round(...)), round half to even


def _torchvision_size() -> Callable[[int, int, int], tuple[int, int]] | None:
    try:
        from torchvision.transforms.functional import _compute_resized_output_size
    except ImportError:  # torchvision is an optional (export) dependency
        return None

    def f(w: int, h: int, size: int) -> tuple[int, int]:
        nh, nw = _compute_resized_output_size((h, w), [size])
        return nw, nh

    return f


def resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a, "RGB").resize((w, h), Image.Resampling.BICUBIC))


def value_table(spec: Doc) -> np.ndarray:
    """float32 [3, 256]: every value the pipeline can output for `spec`'s mean and std, from `preprocess_for_model`.

    A 256 x 256 image whose rows hold each byte value once needs no resampling and crops to itself, so row 0 of
    its tensor is the table.
    """
    row = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    ramp = np.ascontiguousarray(np.broadcast_to(row, (256, 256, 3)))
    table_spec = PreprocessSpec.from_manifest({**spec, "image_size": 256})
    return preprocess_for_model(Image.fromarray(ramp, "RGB"), table_spec)[:, 0, :].copy()


def uint8_entry(expected: np.ndarray, seed: int, full: bool = False) -> Doc:
    h, w = expected.shape[:2]
    raw = expected.tobytes()
    flat = expected.reshape(-1)
    entry: Doc = {"width": w, "height": h, "sha256": sha(raw)}
    if full or w * h <= FULL_MAX_PIXELS:
        entry["data"] = b64(raw)
    else:
        entry["samples"] = [[i, int(flat[i])] for i in sample_idx(flat.size, seed)]
    return entry


def pipeline_entry(a: np.ndarray, spec: Doc, seed: int, full_tensor: bool) -> Doc:
    """Run `preprocess_for_model` and record it, with the geometry it used (checked against the tensor)."""
    h, w = a.shape[:2]
    s = int(spec["image_size"])
    tensor = preprocess_for_model(Image.fromarray(a, "RGB"), PreprocessSpec.from_manifest(spec))
    nw, nh = shorter_side_size(w, h, s)
    left, top = crop_offset(nw, s), crop_offset(nh, s)
    resized = a if (nw, nh) == (w, h) else resize(a, nw, nh)
    table = value_table(spec)
    crop = resized[top : top + s, left : left + s]
    rebuilt = np.stack([table[c][crop[:, :, c]] for c in range(3)])
    if tensor.dtype != np.float32 or tensor.shape != (3, s, s) or not np.array_equal(rebuilt, tensor):
        raise AssertionError("preprocess_for_model disagrees with resize + crop + table; the fixture would lie")
    raw = tensor.astype("<f4").tobytes()
    flat = tensor.reshape(-1)
    entry: Doc = {
        "spec": spec,
        "resized": [nw, nh],
        "crop": [left, top],
        "tensor_sha256": sha(raw),
        "lut": b64(table.astype("<f4").tobytes()),
        "samples": [[i, float(flat[i])] for i in sample_idx(flat.size, seed)],
    }
    if full_tensor:
        entry["tensor"] = b64(raw)
    return entry


# ---------------------------------------------------------------------------------------------------------------
# fixture documents


def _about(what: str) -> Doc:
    return {"about": what, "reference": {"pillow": PIL.__version__, "numpy": np.__version__}}


# (name, pattern, seed, width, height, extra resize targets, [(spec, store full tensor)]). The first resize target
# is always the pipeline's own (shorter side 224); it is stored whole for the two extreme cases, 37 -> 224 and
# 1024 -> 224, so their whole 224 x 224 tensors can be compared value by value too. Some targets are chosen so
# that Pillow 13 runs the vertical pass first (height shrinking by more than twice the width's change).
FULL_PIPELINE_RESIZE = {"noise_37x53", "smooth_1024x1024"}
SMALL_SPEC = {**BIOMEDCLIP, "image_size": 48}
CASES: list[tuple[str, str, int, int, int, list[tuple[int, int]], list[tuple[Doc, bool]]]] = [
    (
        "noise_37x53",
        "noise",
        1,
        37,
        53,
        [(5, 7), (37, 100), (80, 53), (18, 26), (100, 100), (40, 20)],
        [(BIOMEDCLIP, False), (SMALL_SPEC, True)],
    ),
    ("noise_1x1", "noise", 2, 1, 1, [(3, 2), (1, 5), (7, 1)], [(BIOMEDCLIP, False), (SMALL_SPEC, True)]),
    (
        "noise_300x260",
        "noise",
        3,
        300,
        260,
        [(150, 130), (301, 260), (299, 259), (40, 90), (280, 100)],
        [(BIOMEDCLIP, False), (SMALL_SPEC, True)],
    ),
    ("smooth_260x300", "smooth", 4, 260, 300, [(130, 150), (520, 600), (99, 80)], [(BIOMEDCLIP, False)]),
    ("noise_501x223", "noise", 5, 501, 223, [(100, 223), (501, 50), (60, 40), (9, 200)], [(BIOMEDCLIP, False)]),
    ("noise_225x224", "noise", 6, 225, 224, [(224, 224), (225, 224)], [(BIOMEDCLIP, False)]),
    ("noise_224x227", "noise", 7, 224, 227, [], [(BIOMEDCLIP, False)]),
    ("noise_224x229", "noise", 8, 224, 229, [], [(BIOMEDCLIP, False)]),
    ("smooth_1024x1024", "smooth", 9, 1024, 1024, [(100, 100), (50, 1000)], [(BIOMEDCLIP, False)]),
    ("noise_777x1031", "noise", 10, 777, 1031, [(90, 37)], [(BIOMEDCLIP, False)]),
    ("noise_223x225", "noise", 11, 223, 225, [], [(BIOMEDCLIP, False)]),
    # taller than 2:1, so Pillow 13 runs the vertical pass first in the pipeline's own resize (long-leg films)
    ("noise_300x700", "noise", 12, 300, 700, [(40, 690)], [(BIOMEDCLIP, False)]),
]


def case_doc(
    name: str, pattern: str, seed: int, w: int, h: int, extra: list[tuple[int, int]], pipes: list[tuple[Doc, bool]]
) -> Doc:
    a = synth(pattern, seed, w, h)
    targets = [shorter_side_size(w, h, 224), *extra]
    full = name in FULL_PIPELINE_RESIZE
    resizes = [uint8_entry(resize(a, tw, th), seed * 31 + i, full and i == 0) for i, (tw, th) in enumerate(targets)]
    return {
        **_about(f"Pillow BICUBIC resizes and preprocess_for_model of a synthetic {w}x{h} image"),
        "name": name,
        "input": {"pattern": pattern, "seed": seed, "width": w, "height": h, "sha256": sha(a.tobytes())},
        "resize": resizes,
        "pipeline": [pipeline_entry(a, spec, seed * 37 + i, full) for i, (spec, full) in enumerate(pipes)],
    }


def sweep_doc() -> Doc:
    """Many small random resizes, stored whole: every pass order and skip of Pillow's resampler."""
    rows = []
    params = hash32(np.arange(4 * 120), 4242)
    for k in range(120):
        w, h, ow, oh = (int(params[4 * k + j] % 40) + 1 for j in range(4))
        if k % 7 == 0:
            ow = w  # vertical pass only
        elif k % 7 == 1:
            oh = h  # horizontal pass only
        elif k % 7 == 2:
            # the edge of Pillow 13's pass-order rule: h - oh against 2 * (w - ow), one below, equal, one above
            ow = max(1, ow // 2)
            h = oh + 2 * (w - ow) + (k // 7) % 3 - 1
        pattern = "noise" if k % 2 == 0 else "smooth"
        seed = 1000 + k
        a = synth(pattern, seed, w, h)
        out = resize(a, ow, oh).tobytes()
        rows.append({"pattern": pattern, "seed": seed, "width": w, "height": h, "out": [ow, oh], "data": b64(out)})
    return {**_about("small resizes, expected output stored whole"), "cases": rows}


def geometry_doc() -> Doc:
    tv = _torchvision_size()
    sizes = []
    dims = hash32(np.arange(400), 77)
    pairs = [
        (1, 1),
        (1, 5000),
        (5000, 1),
        (224, 224),
        (225, 224),
        (224, 225),
        (3, 7),
        (7, 3),
        (1000, 999),
        (999, 1000),
        (683, 512),
        (512, 683),
        (2048, 1536),
        (4000, 3000),
        (37, 53),
        (300, 600),
    ]
    pairs += [(int(dims[2 * i] % 6000) + 1, int(dims[2 * i + 1] % 6000) + 1) for i in range(200)]
    for size in (224, 256, 384, 32, 1):
        for w, h in pairs:
            got = shorter_side_size(w, h, size)
            if tv is not None and tv(w, h, size) != got:
                raise AssertionError(f"torchvision disagrees on {w}x{h} -> {size}: {tv(w, h, size)} vs {got}")
            sizes.append([w, h, size, *got])
    offsets = [[d, s, crop_offset(d, s)] for s in (224, 7, 1) for d in range(s, s + 24)]
    crops = []
    for k, (w, h, s) in enumerate([(9, 8, 4), (10, 11, 4), (7, 5, 4), (4, 4, 4), (13, 6, 5), (30, 33, 20)]):
        a = synth("noise", 500 + k, w, h)
        left, top = crop_offset(w, s), crop_offset(h, s)
        c = np.asarray(Image.fromarray(a, "RGB").crop((left, top, left + s, top + s)))
        crops.append(
            {"seed": 500 + k, "width": w, "height": h, "size": s, "offset": [left, top], "data": b64(c.tobytes())}
        )
    rgba = (hash32(np.arange(7 * 5 * 4), 600) >> np.uint64(24)).astype(np.uint8)
    rgb = Image.frombytes("RGBA", (7, 5), rgba.tobytes()).convert("RGB").tobytes()
    return {
        **_about("shorter-side sizes (checked against torchvision when installed), crop offsets, crops, RGBA->RGB"),
        "torchvision_checked": tv is not None,
        "shorter_side": sizes,
        "crop_offsets": offsets,
        "crops": crops,
        "rgba": {"width": 7, "height": 5, "rgba": b64(rgba.tobytes()), "rgb": b64(rgb)},
    }


def nih_doc() -> Doc:
    rows = []
    for k, fname in enumerate(NIH_FILES):
        img = load_image(NIH_IMAGES / fname)
        a = np.asarray(img)
        h, w = a.shape[:2]
        nw, nh = shorter_side_size(w, h, 224)
        resized = resize(a, nw, nh)
        rows.append(
            {
                "file": fname,
                "width": w,
                "height": h,
                "rgb_sha256": sha(a.tobytes()),
                "resize": {
                    "width": nw,
                    "height": nh,
                    "sha256": sha(resized.tobytes()),
                    "samples": [
                        [i, int(v)]
                        for i, v in zip(
                            sample_idx(resized.size, 900 + k),
                            resized.reshape(-1)[sample_idx(resized.size, 900 + k)],
                            strict=True,
                        )
                    ],
                },
                "pipeline": pipeline_entry(a, BIOMEDCLIP, 950 + k, False),
            }
        )
    return {**_about("NIH chest X-rays from ../shared: hashes and samples only, never pixels"), "images": rows}


# --- PNG decoder fixture: hand-made PNGs (all 5 filter types, split IDAT, ancillary chunk, stored deflate) ------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & M32)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filter_row(ftype: int, row: bytes, prev: bytes, bpp: int) -> bytes:
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, _paeth(a, b, c))[ftype]
        out[i] = (x - pred) & 255
    return bytes([ftype]) + bytes(out)


def _stored_zlib(raw: bytes, block: int = 200) -> bytes:
    """A zlib stream of stored (uncompressed) deflate blocks: the same bytes with every zlib implementation."""
    out = bytearray(b"\x78\x01")
    for i in range(0, max(len(raw), 1), block):
        part = raw[i : i + block]
        final = 1 if i + block >= len(raw) else 0
        out += bytes([final]) + struct.pack("<HH", len(part), len(part) ^ 0xFFFF) + part
    out += struct.pack(">I", zlib.adler32(raw) & M32)
    return bytes(out)


def make_png(a: np.ndarray, color_type: int) -> bytes:
    h, w = a.shape[:2]
    bpp = a.shape[2]
    rows = [a[y].tobytes() for y in range(h)]
    raw = b"".join(_filter_row(y % 5, rows[y], rows[y - 1] if y else bytes(w * bpp), bpp) for y in range(h))
    z = _stored_zlib(raw)
    idat = b"".join(_chunk(b"IDAT", z[i : i + 150]) for i in range(0, len(z), 150))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    text = _chunk(b"tEXt", b"Comment\x00medmir png decoder fixture")
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + text + idat + _chunk(b"IEND", b"")


def png_doc() -> Doc:
    rows = []
    for k, (mode, ct, ch, w, h) in enumerate(
        [("L", 0, 1, 13, 11), ("RGB", 2, 3, 9, 12), ("LA", 4, 2, 10, 10), ("RGBA", 6, 4, 11, 9), ("RGB", 2, 3, 1, 1)]
    ):
        a = (hash32(np.arange(w * h * ch), 700 + k) >> np.uint64(24)).astype(np.uint8).reshape(h, w, ch)
        if k == 0:
            a[2:5] = 0  # runs of equal bytes, so filters see zeros and repeats too
        png = make_png(a, ct)
        with Image.open(io.BytesIO(png)) as im:
            im.load()
            if im.mode != mode or im.size != (w, h) or not np.array_equal(np.asarray(im).reshape(h, w, ch), a):
                raise AssertionError(f"Pillow reads the hand-made {mode} PNG differently")
            rgb = im.convert("RGB").tobytes()
        rows.append({"mode": mode, "color_type": ct, "width": w, "height": h, "png": b64(png), "rgb": b64(rgb)})
    return {**_about("hand-made PNGs (filter type = row % 5) and Pillow's convert('RGB') of them"), "cases": rows}


def build_fixtures(nih: bool = True) -> dict[str, Doc]:
    """File name -> document, exactly as `main` writes them."""
    docs = {f"{c[0]}.json": case_doc(*c) for c in CASES}
    docs["sweep.json"] = sweep_doc()
    docs["geometry.json"] = geometry_doc()
    docs["png.json"] = png_doc()
    if nih:
        docs["nih.json"] = nih_doc()
    return docs


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-+0-9.eE,\s]*?)\s*\]")


def dumps(doc: Doc) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(doc, ensure_ascii=True, indent=1)
    return _NUMBER_LIST.sub(lambda m: "[" + ",".join(x.strip() for x in m.group(1).split(",")) + "]", text) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, doc in build_fixtures().items():
        text = dumps(doc)
        (args.out / name).write_text(text, encoding="ascii")
        total += len(text)
        print(f"{name:24s} {len(text) / 1024:8.1f} KiB")
    print(f"{'total':24s} {total / 1024:8.1f} KiB -> {args.out}")


if __name__ == "__main__":
    main()
