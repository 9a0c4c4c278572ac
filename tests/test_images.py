"""Decoding, model preprocessing (against open_clip's own transform) and thumbnails, on real NIH X-rays."""

from __future__ import annotations

import io
import json
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import open_clip
import pytest
from conftest import BIOMEDCLIP, NIH_SAMPLE
from PIL import Image

from medmir.core.errors import MedmirError
from medmir.imaging.decode import (
    encode_webp,
    load_image,
    make_thumbnail,
    preprocess_batch,
    preprocess_for_model,
    to_rgb8,
)
from medmir.imaging.errors import MAX_ASPECT, MAX_PIXELS, MAX_SIDE, ImageReadError, size_problem
from medmir.model.manifest import PreprocessSpec

IMAGES = NIH_SAMPLE / "images"
PRE = json.loads((BIOMEDCLIP / "open_clip_config.json").read_text())["preprocess_cfg"]
Transform = Callable[[Image.Image], Any]  # open_clip's torchvision Compose
SPEC_SECTION = {"image_size": 224, "mean": PRE["mean"], "std": PRE["std"]}  # a manifest's "preprocess", as read
SPEC = PreprocessSpec.from_manifest(SPEC_SECTION)


@pytest.fixture(scope="module")
def nih_by_mode() -> dict[str, list[Path]]:
    modes: dict[str, list[Path]] = {}
    for p in sorted(IMAGES.glob("*.png")):
        with Image.open(p) as im:
            modes.setdefault(im.mode, []).append(p)
    assert len(modes.get("RGBA", [])) == 4, "the NIH sample is documented to hold 4 RGBA images"
    return modes


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, data start, data length) of every chunk."""
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], pos + 8, length))
        pos += 12 + length
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _fake_png(w: int, h: int) -> bytes:
    """A valid PNG header claiming w x h 8-bit gray pixels, with (far too little) pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- decoding


def test_load_real_grayscale_replicates_gray(nih_by_mode: dict[str, list[Path]]) -> None:
    p = nih_by_mode["L"][0]
    img = load_image(p)
    assert img.mode == "RGB" and img.size == (1024, 1024)
    a = np.asarray(img)
    ref = np.asarray(Image.open(p))
    for c in range(3):
        np.testing.assert_array_equal(a[..., c], ref)


def test_load_real_rgba_equals_convert_rgb(nih_by_mode: dict[str, list[Path]]) -> None:
    for p in nih_by_mode["RGBA"]:
        img = load_image(p)
        assert img.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(img), np.asarray(Image.open(p).convert("RGB")))


def test_alpha_is_dropped_not_composited(tmp_path: Path) -> None:
    a = np.zeros((8, 8, 4), np.uint8)
    a[..., :3] = (200, 100, 50)
    a[:4, ..., 3] = 0  # fully transparent top half: compositing on black would give 0
    a[4:, ..., 3] = 128
    p = tmp_path / "rgba.png"
    Image.fromarray(a, "RGBA").save(p)
    out = np.asarray(load_image(p))
    assert (out == (200, 100, 50)).all()
    np.testing.assert_array_equal(out, np.asarray(Image.open(p).convert("RGB")))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # full-range 16-bit: divide by 257, rounded
        ([0, 257, 128, 129, 32768, 65535], [0, 1, 0, 1, 128, 255]),
        # 12-bit data in a 16-bit container: max 4095 -> scaled by 255/4095, not left 16x too dark
        ([0, 4095, 2048, 16], [0, 255, 128, 1]),
        # values that fit 8 bits are kept as they are
        ([0, 7, 200], [0, 7, 200]),
    ],
)
def test_16bit_png_scales_by_detected_bit_depth(tmp_path: Path, values: list[int], expected: list[int]) -> None:
    a = np.array([values], dtype=np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode == "I;16"
    out = np.asarray(load_image(p))
    assert out.shape == (1, len(values), 3)
    assert out[0, :, 0].tolist() == expected
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_16bit_big_endian_and_32bit_int_modes() -> None:
    a = np.array([[0, 257, 65535]], dtype=">u2")
    big = Image.frombytes("I;16B", (3, 1), a.tobytes())
    assert np.asarray(to_rgb8(big))[0, :, 0].tolist() == [0, 1, 255]
    signed = Image.fromarray(np.array([[-5, 0, 1000, 4095]], dtype=np.int32), mode="I")
    assert np.asarray(to_rgb8(signed))[0, :, 0].tolist() == [0, 0, 62, 255]


def test_float_images_are_refused() -> None:
    with pytest.raises(ImageReadError, match="mode F"):
        to_rgb8(Image.new("F", (2, 2)))


def test_la_drops_alpha(tmp_path: Path) -> None:
    p = tmp_path / "la.png"
    Image.new("LA", (5, 3), (100, 0)).save(p)
    out = np.asarray(load_image(p))
    assert out.shape == (3, 5, 3) and (out == 100).all()


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (4, 2), 1)
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    im.putpixel((0, 0), 2)
    p = tmp_path / "pal.png"
    im.save(p, transparency=1)
    assert "transparency" in Image.open(p).info
    out = np.asarray(load_image(p))
    assert tuple(out[0, 0]) == (0, 0, 255)
    assert tuple(out[1, 3]) == (255, 0, 0)  # the transparent index keeps its palette colour
    np.testing.assert_array_equal(out, np.asarray(Image.open(p).convert("RGBA").convert("RGB")))


def test_cmyk_jpeg(tmp_path: Path) -> None:
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (32, 16), (0, 255, 255, 0)).save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    img = load_image(p)
    assert img.mode == "RGB" and img.size == (32, 16)
    mean = np.asarray(img).reshape(-1, 3).mean(axis=0)
    assert mean[0] > 240 and mean[1] < 15 and mean[2] < 15  # red


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    a = np.zeros((40, 60), np.uint8)  # stored 60 wide, 40 high, white block at the stored top-left
    a[:16, :16] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: rotate 90 degrees clockwise to display
    p = tmp_path / "rot.jpg"
    Image.fromarray(a).save(p, exif=exif.tobytes(), quality=95)
    img = load_image(p)
    assert img.size == (40, 60)  # displayed 40 wide, 60 high
    g = np.asarray(img)[..., 0].astype(int)
    assert g[2:14, 26:38].mean() > 230  # block now at the top-right
    assert g[2:14, 2:14].mean() < 25


def test_corrupt_png_idat(tmp_path: Path, nih_by_mode: dict[str, list[Path]]) -> None:
    data = bytearray(nih_by_mode["L"][0].read_bytes())
    idats = [(start, n) for kind, start, n in _png_chunks(bytes(data)) if kind == b"IDAT"]
    start, n = idats[len(idats) // 2]
    for i in range(start + n // 2, start + n // 2 + 32):
        data[i] ^= 0xFF
    p = tmp_path / "corrupt.png"
    p.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="corrupt") as ei:
        load_image(p)
    assert ei.value.path == p and "corrupt.png" in str(ei.value)


def test_truncated_png(tmp_path: Path, nih_by_mode: dict[str, list[Path]]) -> None:
    data = nih_by_mode["L"][1].read_bytes()
    p = tmp_path / "half.png"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"half\.png: truncated"):
        load_image(p)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"hello, I am not an image\n", "not a recognised image format"), (b"", "empty file")],
)
def test_not_an_image(tmp_path: Path, content: bytes, reason: str) -> None:
    p = tmp_path / "fake.png"
    p.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as ei:
        load_image(p)
    assert str(ei.value).startswith(str(p))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    d = tmp_path / "dir.png"
    d.mkdir()
    with pytest.raises(ImageReadError, match="is a directory"):
        load_image(d)
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("side", [20_001, 60_000])  # above our limit; above twice Pillow's (raised) limit
def test_decompression_bomb_guard(tmp_path: Path, side: int) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(_fake_png(side, side))
    with pytest.raises(ImageReadError, match="image too large") as ei:
        load_image(p)
    # one limit in the message, ours: not Pillow's "exceeds limit of 800000000" nor a pixel cap it never applies
    assert "each side may be at most 20,000 pixels" in ei.value.reason
    assert "limit" not in ei.value.reason and "800" not in ei.value.reason and "400,000,000" not in ei.value.reason


def test_large_radiograph_size_is_allowed(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    p.write_bytes(_fake_png(20_000, 20_000))
    with pytest.raises(ImageReadError) as ei:  # refused for its missing pixel data, not for its size
        load_image(p)
    assert "too large" not in ei.value.reason


# ---------------------------------------------------------------- size rule (the browser applies the same one)


def _gray_png(path: Path, w: int, h: int) -> Path:
    Image.new("L", (w, h), 128).save(path)
    return path


def test_size_rule_constants_are_the_shared_resource() -> None:
    from importlib import resources

    limits = json.loads(resources.files("medmir.resources").joinpath("image_limits.json").read_text())
    assert (limits["max_side"], limits["max_aspect"], limits["max_side"] ** 2) == (MAX_SIDE, MAX_ASPECT, MAX_PIXELS)
    assert (MAX_SIDE, MAX_ASPECT) == (20_000, 20)  # docs/FORMAT.md states these numbers


@pytest.mark.parametrize(
    ("w", "h", "reason"),
    [
        (1_000_000, 1, r"image too large: 1000000x1; each side may be at most 20,000 pixels"),
        (40_000, 2, r"image too large: 40000x2; each side"),
        (4_000, 2, r"image too elongated: 4000x2; the longer side may be at most 20 times the shorter"),
        (2, 4_000, r"image too elongated: 2x4000"),
        (401, 20, r"image too elongated: 401x20"),
        (20, 401, r"image too elongated: 20x401"),
    ],
)
def test_tiny_files_with_huge_or_elongated_sizes_are_refused(tmp_path: Path, w: int, h: int, reason: str) -> None:
    # a few hundred bytes each: these used to decode and then reach a model resize of up to 150 GB
    p = _gray_png(tmp_path / f"img_{w}x{h}.png", w, h)
    assert p.stat().st_size < 2_000
    with pytest.raises(ImageReadError, match=reason) as ei:
        load_image(p)
    assert str(ei.value).startswith(str(p))
    assert size_problem(w, h) == ei.value.reason


@pytest.mark.parametrize(("w", "h"), [(1024, 1024), (2500, 2048), (400, 20), (20, 400), (1, 1), (20, 1)])
def test_normal_and_boundary_sizes_are_accepted(tmp_path: Path, w: int, h: int) -> None:
    img = load_image(_gray_png(tmp_path / "ok.png", w, h))
    assert img.size == (w, h) and size_problem(w, h) is None
    x = preprocess_for_model(img, SPEC)
    assert x.shape == (3, 224, 224) and np.isfinite(x).all()
    assert max(make_thumbnail(img).size) == min(256, max(w, h))


def test_size_rule_edges() -> None:
    assert size_problem(MAX_SIDE, MAX_SIDE) is None
    assert size_problem(MAX_SIDE, MAX_SIDE // MAX_ASPECT) is None
    assert "too elongated" in (size_problem(MAX_SIDE, MAX_SIDE // MAX_ASPECT - 1) or "")
    assert "too large" in (size_problem(MAX_SIDE + 1, MAX_SIDE) or "")
    assert "no pixels" in (size_problem(0, 5) or "")


def test_preprocess_refuses_elongated_images_it_is_given() -> None:
    # callers that skip load_image must not reach the S x 224,000 resize either
    with pytest.raises(ImageReadError, match="too elongated: 4000x2"):
        preprocess_for_model(Image.new("RGB", (4000, 2)), SPEC)


def test_index_skips_and_search_refuses_oversized_images(tiny_pack: Path, tmp_path: Path) -> None:
    from medmir.bundle.read import Bundle
    from medmir.imaging.thumbnails import process_images
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    src = tmp_path / "imgs"
    src.mkdir()
    shutil.copy(IMAGES / "00000075_000.png", src / "normal.png")  # an NIH radiograph, 1024 x 1024
    _gray_png(src / "long.png", 1_000_000, 1)
    _gray_png(src / "wide.png", 40_000, 2)
    _gray_png(src / "thin.png", 4_000, 2)
    bad = {"long.png": "image too large: 1000000x1", "wide.png": "image too large: 40000x2",
           "thin.png": "image too elongated: 4000x2"}  # fmt: skip

    rep = process_images(src, tmp_path / "thumbs", workers=1)
    assert rep.processed == 1 and sorted(p.name for p in (tmp_path / "thumbs").iterdir()) == ["normal.webp"]
    assert {p.name: why.split(";")[0] for p, why in rep.skipped} == bad

    labels = tmp_path / "l.csv"
    labels.write_text("filename,labels\n" + "".join(f"{n},X\n" for n in ["normal.png", *bad]), encoding="utf-8")
    out = tmp_path / "bundle"
    irep = build_index(IndexOptions(src, labels, tiny_pack, out, workers=1))
    assert irep.count == 1 and [m["filename"] for m in Bundle.open(out).metadata] == ["normal.png"]
    skipped = {Path(what).name: why for what, why in irep.skipped.items}
    assert set(skipped) == set(bad) and all(bad[n] in skipped[n] for n in bad)

    for name, reason in bad.items():
        proc = subprocess.run(
            [sys.executable, "-m", "medmir.cli", "search", "--image", str(src / name), "--bundle", str(out),
             "--model", str(tiny_pack), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode != 0 and proc.stdout == ""
        assert name in proc.stderr and reason in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_image_read_error_pickles() -> None:
    e = pickle.loads(pickle.dumps(ImageReadError(Path("a/b.png"), "broken")))
    assert isinstance(e, MedmirError) and e.path == Path("a/b.png") and e.reason == "broken"
    assert str(e) == "a/b.png: broken"


# ---------------------------------------------------------------- model preprocessing


@pytest.fixture(scope="module")
def open_clip_transform() -> Transform:
    return open_clip.image_transform(224, is_train=False, mean=PRE["mean"], std=PRE["std"])


def _reference(transform: Transform, img: Image.Image) -> np.ndarray:
    return transform(img).numpy()


def test_preprocess_matches_open_clip_on_real_images(
    nih_by_mode: dict[str, list[Path]], open_clip_transform: Transform
) -> None:
    paths = nih_by_mode["L"][::50][:8] + nih_by_mode["RGBA"]
    assert len(paths) == 12
    for p in paths:
        ours = preprocess_for_model(load_image(p), SPEC)
        assert ours.dtype == np.float32 and ours.shape == (3, 224, 224)
        # The reference is open_clip applied to the file as opened, in its own mode (L or RGBA).
        ref = _reference(open_clip_transform, Image.open(p))
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6, err_msg=p.name)


@pytest.mark.parametrize("box", [(0, 0, 700, 400), (13, 101, 314, 878), (0, 0, 225, 1000), (50, 50, 150, 147)])
def test_preprocess_matches_open_clip_non_square_and_small(
    nih_by_mode: dict[str, list[Path]],
    open_clip_transform: Transform,
    box: tuple[int, int, int, int],
) -> None:
    img = load_image(nih_by_mode["RGBA"][0]).crop(box)
    ours = preprocess_for_model(img, SPEC)
    np.testing.assert_allclose(ours, _reference(open_clip_transform, img), rtol=0, atol=1e-6)


def test_preprocess_batch(nih_by_mode: dict[str, list[Path]]) -> None:
    imgs = [load_image(p) for p in nih_by_mode["L"][:3]]
    batch = preprocess_batch(imgs, SPEC)
    assert batch.shape == (3, 3, 224, 224) and batch.dtype == np.float32
    np.testing.assert_array_equal(batch[1], preprocess_for_model(imgs[1], SPEC))
    assert preprocess_batch([], SPEC).shape == (0, 3, 224, 224)


def test_preprocess_spec_is_checked() -> None:
    img = Image.new("RGB", (10, 10))
    steps = [{"op": op} for op in ("to_rgb", "resize_shorter_side", "center_crop", "scale", "normalize")]
    spec = PreprocessSpec.from_manifest({**SPEC_SECTION, "steps": steps})
    assert preprocess_for_model(img, spec).shape == (3, 224, 224)
    bad_specs = [
        {**SPEC_SECTION, "image_size": 0},
        {**SPEC_SECTION, "mean": [0.5, 0.5]},
        {**SPEC_SECTION, "std": [0.5, 0.0, 0.5]},
        {**SPEC_SECTION, "steps": steps[:2] + steps[3:]},
        {**SPEC_SECTION, "steps": [steps[0], {"op": "resize_shorter_side", "interpolation": "bilinear"}, *steps[2:]]},
    ]
    for section in bad_specs:
        with pytest.raises(MedmirError, match="preprocess spec"):
            PreprocessSpec.from_manifest(section)  # checked once, where a manifest is read


# ---------------------------------------------------------------- thumbnails


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 1024), (256, 256)), ((1024, 600), (256, 150)), ((600, 1024), (150, 256)), ((100, 50), (100, 50))],
)
def test_thumbnail_sizes(nih_by_mode: dict[str, list[Path]], size: tuple[int, int], expected: tuple[int, int]) -> None:
    img = load_image(nih_by_mode["L"][2]).resize(size)
    th = make_thumbnail(img, 256)
    assert th.size == expected and th.mode == "RGB"
    assert th is not img


def test_webp_is_rgb_and_decodable(nih_by_mode: dict[str, list[Path]]) -> None:
    img = load_image(nih_by_mode["L"][3])
    data = encode_webp(make_thumbnail(img))
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert len(data) < 60_000
    back = Image.open(io.BytesIO(data))
    back.load()
    assert back.format == "WEBP" and back.mode == "RGB" and back.size == (256, 256)
    ref = np.asarray(make_thumbnail(img), dtype=np.float32)
    assert np.abs(np.asarray(back, dtype=np.float32) - ref).mean() < 4  # lossy but faithful
