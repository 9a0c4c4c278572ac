"""The `process` stage on 12 real NIH X-rays (copied into tmp_path; never into the repository)."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE
from PIL import Image

from medmir.cli.process import handler, register
from medmir.core.errors import MedmirError
from medmir.imaging.errors import ImageReadError
from medmir.imaging.thumbnails import ProcessReport, process_images

IMAGES = NIH_SAMPLE / "images"


def _twelve() -> list[Path]:
    paths = sorted(IMAGES.glob("*.png"))
    rgba = [p for p in paths if Image.open(p).mode == "RGBA"][:2]
    gray = [p for p in paths[::30] if p not in rgba][: 12 - len(rgba)]
    return gray + rgba


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for p in _twelve():
        shutil.copy(p, d / p.name)
    return d


def _truncated(dst: Path) -> Path:
    data = (IMAGES / "00000075_000.png").read_bytes()
    dst.write_bytes(data[: len(data) // 3])
    return dst


def _run(src: Path, out: Path, **kw: object) -> ProcessReport:
    kw.setdefault("workers", 1)
    return process_images(src, out, **kw)  # type: ignore[arg-type]


def test_twelve_real_images(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = process_images(inputs, out, workers=2)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(p.stem + ".webp" for p in inputs.iterdir())
    assert len(names) == 12
    for p in out.iterdir():
        with Image.open(p) as im:
            im.load()
            assert im.format == "WEBP" and im.mode == "RGB" and im.size == (256, 256)
    assert report.processed == 12 and report.cached == 0 and report.skipped == []
    assert report.bytes_in == sum(p.stat().st_size for p in inputs.iterdir())
    assert report.bytes_out == sum(p.stat().st_size for p in out.iterdir())
    assert report.ratio > 20
    s = report.summary()
    assert s.startswith("12 images, ") and "0 skipped" in s and f"({report.ratio:.1f}x)" in s


def test_thumbnail_content_matches_source(inputs: Path, tmp_path: Path) -> None:
    src = sorted(inputs.iterdir())[0]
    _run(inputs, tmp_path / "out")
    th = np.asarray(Image.open(tmp_path / "out" / f"{src.stem}.webp"), dtype=np.float32)
    ref = np.asarray(Image.open(src).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS), dtype=np.float32)
    assert np.abs(th - ref).mean() < 4


def test_corrupt_file_is_skipped_and_reported(inputs: Path, tmp_path: Path) -> None:
    bad = _truncated(inputs / "broken scan.png")
    out = tmp_path / "out"
    report = process_images(inputs, out, workers=2)
    assert report.processed == 12
    assert len(report.skipped) == 1
    path, reason = report.skipped[0]
    assert path == bad and "truncated" in reason
    assert not (out / "broken scan.webp").exists()
    assert "1 skipped" in report.summary()
    assert report.bytes_in == sum(p.stat().st_size for p in inputs.iterdir() if p != bad)


@pytest.mark.parametrize("workers", [1, 2])
def test_strict_raises_and_leaves_nothing_partial(inputs: Path, tmp_path: Path, workers: int) -> None:
    _truncated(inputs / "00000000_bad.png")  # sorts first, so it fails before most of the work
    out = tmp_path / "out"
    with pytest.raises(ImageReadError, match=r"00000000_bad\.png: truncated"):
        _run(inputs, out, strict=True, workers=workers)
    assert not (out / "00000000_bad.webp").exists()
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") or not p.name.endswith(".webp")]
    assert leftovers == []
    for p in out.iterdir():  # whatever was finished is whole
        Image.open(p).load()


def test_duplicate_stems_fail_before_any_output(inputs: Path, tmp_path: Path) -> None:
    src = sorted(inputs.iterdir())[0]
    (inputs / "a").mkdir()
    (inputs / "b").mkdir()
    shutil.copy(src, inputs / "a" / "x.png")
    shutil.copy(src, inputs / "b" / "x.png")
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match="clash") as ei:
        _run(inputs, out)
    msg = str(ei.value)
    assert str(inputs / "a" / "x.png") in msg and str(inputs / "b" / "x.png") in msg
    assert not out.exists()


def test_same_stem_different_extension_or_case_clashes(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    src = IMAGES / "00000075_000.png"
    shutil.copy(src, d / "x.png")
    Image.open(src).convert("RGB").save(d / "X.jpg")
    with pytest.raises(MedmirError, match=r"x\.png.*X\.jpg|X\.jpg.*x\.png"):
        _run(d, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_empty_and_missing_input_folders(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    (empty / ".hidden.png").write_bytes(b"hidden files are not inputs")
    with pytest.raises(MedmirError, match="no images found"):
        _run(empty, tmp_path / "out")
    with pytest.raises(MedmirError, match="does not exist"):
        _run(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(MedmirError, match="must differ"):
        _run(empty, empty)


def test_odd_file_names_are_only_file_names(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    src = IMAGES / "00000075_000.png"
    names = ["<img src=x onerror=alert(1)>.png", "chest x ray [bold]1[bold].PNG", "..dots.png", "café 1.tif"]
    for n in names:
        shutil.copy(src, d / n)
    out = tmp_path / "out"
    report = _run(d, out)
    assert report.processed == 3 and report.skipped == []
    expected = {"<img src=x onerror=alert(1)>.webp", "chest x ray [bold]1[bold].webp", "café 1.webp"}
    assert {p.name for p in out.iterdir()} == expected  # "..dots.png" is a hidden file: not an input
    assert {p.name for p in tmp_path.iterdir()} == {"in", "out"}  # nothing written outside the output folder


def test_rerun_uses_cache_and_force_redoes(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(inputs, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = _run(inputs, out)
    assert again.processed == 12 and again.cached == 12 and again.ratio > 1
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert "12 cached" in again.summary()

    touched = sorted(inputs.iterdir())[0]
    future = before[touched.stem + ".webp"] + 10**9
    os.utime(touched, ns=(future, future))
    third = _run(inputs, out)
    assert third.cached == 11
    assert (out / f"{touched.stem}.webp").stat().st_mtime_ns > future - 10**9

    forced = _run(inputs, out, force=True)
    assert forced.cached == 0 and forced.processed == 12


def test_output_folder_inside_input_is_not_read_back(inputs: Path) -> None:
    out = inputs / "thumbs"
    assert _run(inputs, out).processed == 12
    second = _run(inputs, out)  # the .webp outputs would clash with their own inputs if they were read back
    assert second.processed == 12 and second.cached == 12


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medmir")
    register(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_end_to_end(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _truncated(inputs / "[red]bad <i>.png")
    out = tmp_path / "out"
    args = _parser().parse_args(["process", "--input", str(inputs), "--out", str(out), "--workers", "2"])
    assert args.fn is handler
    assert args.fn(args) == 0
    err = capsys.readouterr().err
    assert "12 images" in err and "1 skipped" in err
    assert f"{bad}: truncated" in err  # markup in the name printed literally, not interpreted
    assert len(list(out.glob("*.webp"))) == 12

    args = _parser().parse_args(["process", "--input", str(inputs), "--out", str(out), "--strict", "--force"])
    assert args.strict and args.force and args.workers is None
    with pytest.raises(MedmirError, match="truncated"):
        handler(args)


def test_cli_rejects_bad_worker_count(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["process", "--input", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["process", "--out", str(tmp_path)])
