"""DICOM decoding (docs/DICOM.md's rule), pinned against references computed here from the NIH pixels written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_samples import nih_pixels, samples, twelve_bit, write_dicom
from PIL import Image

from medmir.imaging import dicom
from medmir.imaging.decode import load_image
from medmir.imaging.errors import ImageReadError


def _grey(path: Path) -> np.ndarray:
    a = np.asarray(load_image(path)).astype(np.int64)
    assert (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 1] == a[:, :, 2]).all()
    return a[:, :, 0]


def _percentile8(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float64)
    lo, hi = np.percentile(v, [0.5, 99.5])
    return np.floor(np.clip((v - lo) / (hi - lo), 0, 1) * 255 + 0.5)


def _linear8(v: np.ndarray, c: float, w: float) -> np.ndarray:
    y = np.where(
        v <= c - 0.5 - (w - 1) / 2, 0.0, np.where(v > c - 0.5 + (w - 1) / 2, 1.0, (v - (c - 0.5)) / (w - 1) + 0.5)
    )
    return np.floor(y * 255 + 0.5)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dicom")
    return {name: write(out / f"{name}.dcm") for name, (write, _, _) in samples().items()}


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("mono2-8bit-percentile", lambda: nih_pixels(0)),
        ("rle-12bit", lambda: twelve_bit(7)),
        ("jpeg2000-lossless", lambda: twelve_bit(8)),
        ("jpegls-lossless", lambda: twelve_bit(9)),
        ("deflated", lambda: nih_pixels(11)),
        ("big-endian-16bit", lambda: twelve_bit(12)),
        ("multiframe-3", lambda: nih_pixels(5)),  # the middle of frames 4, 5, 6
    ],
)
def test_lossless_syntaxes_decode_to_the_percentile_window_of_what_was_written(written, name, source) -> None:
    assert np.array_equal(_grey(written[name]), _percentile8(source()))


def test_monochrome1_with_rescale_and_window_is_inverted(written) -> None:
    v = twelve_bit(1) * 2.0 - 1024  # RescaleSlope 2, RescaleIntercept -1024
    assert np.array_equal(_grey(written["mono1-12bit-window"]), 255 - _linear8(v, 2000, 5000))


def test_signed_values_linear_exact_and_sigmoid_windows(written) -> None:
    v = (nih_pixels(2).astype(np.int16) * 100 - 12000) * 1.5 + 10
    exact = np.floor(np.clip((v - 0) / 20000 + 0.5, 0, 1) * 255 + 0.5)
    assert np.array_equal(_grey(written["mono2-16bit-signed-linear-exact"]), exact)
    v = twelve_bit(3).astype(np.float64)  # the first of two windows is used
    sigmoid = np.floor(1 / (1 + np.exp(-4 * (v - 2048) / 3000)) * 255 + 0.5)
    assert np.array_equal(_grey(written["mono2-sigmoid-implicit"]), sigmoid)


def test_bits_above_bits_stored_are_ignored_and_signed_values_sign_extended(tmp_path: Path) -> None:
    clean = twelve_bit(3)
    noisy = clean | np.uint16(0xB000)  # garbage in the 4 unused high bits
    a = write_dicom(tmp_path / "a.dcm", clean, bits_stored=12)
    b = write_dicom(tmp_path / "b.dcm", noisy, bits_stored=12, uid_seed="2")
    assert np.array_equal(_grey(a), _grey(b))
    signed = clean.astype(np.int16) - 2048  # -2048..2047, stored as 12-bit two's complement with junk above
    stored = (signed.astype(np.uint16) & 0x0FFF) | np.uint16(0x5000)
    c = write_dicom(tmp_path / "c.dcm", stored, bits_stored=12, signed=True, uid_seed="3")
    assert np.array_equal(_grey(c), _percentile8(signed))


def test_colour_and_jpeg(written) -> None:
    rgb = np.asarray(load_image(written["rgb"]))
    assert np.array_equal(rgb, np.stack([nih_pixels(13)] * 3, axis=2))
    jpeg = _grey(written["jpeg-baseline"])  # lossy: near the source, not equal
    assert np.abs(jpeg - _percentile8(nih_pixels(10))).mean() < 2.0


def test_a_dicom_without_extension_is_found_by_its_magic(written, tmp_path: Path) -> None:
    plain = tmp_path / "IM000001"
    plain.write_bytes(written["deflated"].read_bytes())
    assert np.array_equal(np.asarray(load_image(plain)), np.asarray(load_image(written["deflated"])))


def test_frames_and_their_bounds(written) -> None:
    path = written["multiframe-3"]
    ds = dicom.read(path, path.read_bytes())
    assert dicom.frame_info(ds, path).frames == 3
    first = dicom.decode(ds, path, 0)[:, :, 0].astype(np.int64)
    assert np.array_equal(first, _percentile8(nih_pixels(4)))
    with pytest.raises(ImageReadError, match="frame 3 does not exist"):
        dicom.decode(ds, path, 3)


def _fails(path: Path, *patterns: str) -> None:
    with pytest.raises(ImageReadError) as info:
        load_image(path)
    assert info.value.path == path and str(path) in str(info.value)
    for p in patterns:
        assert p in info.value.reason, info.value.reason


def test_bad_dicom_files_name_the_file_and_the_problem(written, tmp_path: Path) -> None:
    whole = written["mono2-8bit-percentile"].read_bytes()
    (tmp_path / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    _fails(tmp_path / "cut.dcm", "truncated")
    (tmp_path / "header.dcm").write_bytes(whole[:200])
    _fails(tmp_path / "header.dcm", "truncated")
    rle = written["rle-12bit"].read_bytes()
    (tmp_path / "cut-rle.dcm").write_bytes(rle[: len(rle) // 2])  # inside the encapsulated fragments
    _fails(tmp_path / "cut-rle.dcm", "truncated")
    from pydicom import dcmread
    from pydicom.encaps import encapsulate

    ds = dcmread(written["mono2-8bit-percentile"])
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm")
    _fails(tmp_path / "nopixels.dcm", "no pixel data")
    ds = dcmread(written["mono2-8bit-percentile"])
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2
    ds.PixelData = encapsulate([b"\0" * 64])
    ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    ds.save_as(tmp_path / "mpeg.dcm")
    _fails(tmp_path / "mpeg.dcm", "unsupported transfer syntax 1.2.840.10008.1.2.4.100")
    ds = dcmread(written["mono2-8bit-percentile"])
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ds.save_as(tmp_path / "palette.dcm")
    _fails(tmp_path / "palette.dcm", "PALETTE COLOR")
    ds = dcmread(written["mono2-8bit-percentile"])
    ds.Rows, ds.Columns = 30000, 2
    ds.save_as(tmp_path / "huge.dcm")
    _fails(tmp_path / "huge.dcm", "30000")  # refused from the header, before any pixel is decoded
    (tmp_path / "text.dcm").write_bytes(b"hello, not DICOM at all" * 20)
    _fails(tmp_path / "text.dcm", "not a DICOM file")


def test_every_sample_python_writes_for_the_browser_decodes(written) -> None:
    for name, path in written.items():
        img = load_image(path)
        assert img.mode == "RGB" and min(img.size) > 0, name


def test_decoded_png_round_trip_is_exact(written, tmp_path: Path) -> None:
    """select writes the decoded pixels as PNG; reading that PNG back gives the same pixels the DICOM gives."""
    img = load_image(written["mono1-12bit-window"])
    Image.fromarray(np.asarray(img)[:, :, 0], mode="L").save(tmp_path / "x.png")
    assert np.array_equal(np.asarray(load_image(tmp_path / "x.png")), np.asarray(img))


def test_process_makes_thumbnails_of_dicom_files(written, tmp_path: Path) -> None:
    from medmir.imaging.thumbnails import process_images

    src = tmp_path / "in"
    src.mkdir()
    for name in ("mono1-12bit-window", "jpeg2000-lossless"):
        (src / f"{name}.dcm").write_bytes(written[name].read_bytes())
    rep = process_images(src, tmp_path / "thumbs", workers=1)
    assert rep.processed == 2 and not rep.skipped
    assert sorted(p.name for p in (tmp_path / "thumbs").glob("*.webp")) == [
        "jpeg2000-lossless.webp",
        "mono1-12bit-window.webp",
    ]
