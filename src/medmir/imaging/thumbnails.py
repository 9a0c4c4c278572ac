"""The `process` stage: a folder of images in, one small WebP thumbnail per image out.

Decisions:
- Inputs are found recursively (png, jpg, jpeg, webp, bmp, tif, tiff, dcm, dicom; any case). Hidden files and
  hidden folders are skipped, and so is the output folder when it lies inside the input folder (else a re-run would
  read its own thumbnails back as inputs). Symlinked files are followed; symlinked folders are not (no loops).
- Each output is `out_dir/<stem>.webp`: the input's name is used only as a file name, never as a path. Two inputs
  whose outputs would share a name are an error before any work. Names are compared after Unicode NFC
  normalisation and case folding, because the thumbnails may be copied to case-insensitive filesystems.
- Outputs are written atomically, so a failure or interrupt never leaves a half-written file.
- An output newer than its input is reused (counted as processed and cached); `force=True` redoes it. The cache
  does not notice a change of `max_side`: use `force` then.
- Work runs in a pool of "spawn" processes: forking a parent that may hold torch/OpenMP threads can deadlock.
"""

from __future__ import annotations

import os
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_bytes
from medmir.core.progress import OnProgress, no_progress
from medmir.core.workers import spawn_pool
from medmir.data.records import IMAGE_SUFFIXES
from medmir.imaging.decode import encode_webp, load_image, make_thumbnail
from medmir.imaging.dicom import DICOM_SUFFIXES
from medmir.imaging.errors import ImageReadError

IMAGE_EXTENSIONS = frozenset((*IMAGE_SUFFIXES, *DICOM_SUFFIXES))  # a DICOM's thumbnail: its middle frame, windowed
WEBP_QUALITY = 85
WEBP_METHOD = 6

_Result = tuple[int, int, str | None]  # bytes_in, bytes_out, failure reason (None: written)


@dataclass
class ProcessReport:
    """What a `process_images` run did. `processed` includes `cached` (outputs reused from an earlier run)."""

    processed: int = 0
    cached: int = 0
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    bytes_in: int = 0  # inputs that have an output (skipped files are not counted)
    bytes_out: int = 0
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """bytes_in / bytes_out; 0.0 when nothing was written."""
        return self.bytes_in / self.bytes_out if self.bytes_out else 0.0

    def summary(self) -> str:
        text = (
            f"{self.processed} images, {_fmt_bytes(self.bytes_in)} -> {_fmt_bytes(self.bytes_out)} "
            f"({self.ratio:.1f}x), {len(self.skipped)} skipped"
        )
        if self.cached:
            text += f", {self.cached} cached"
        return f"{text}, {self.seconds:.1f} s"


def _fmt_bytes(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.1f} kB"


def find_images(input_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Image files under `input_dir`, sorted; hidden files and folders, and the folder `exclude`, are left out."""
    exclude = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    for root, dirs, files in os.walk(input_dir):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (rootp / d).resolve() != exclude)
        for name in files:
            p = rootp / name
            if not name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
                found.append(p)
    return sorted(found)


def _output_name(src: Path) -> str:
    stem = src.stem
    if not stem or stem.startswith(".") or "/" in stem or "\\" in stem or "\0" in stem:
        raise MedmirError(f"{src}: cannot derive a safe output name from {src.name!r}")
    return f"{stem}.webp"


def plan_outputs(inputs: list[Path], out_dir: Path) -> list[tuple[Path, Path]]:
    """Pair each input with `out_dir/<stem>.webp`; raise MedmirError listing every clash, before any work."""
    by_key: dict[str, list[Path]] = {}
    pairs: list[tuple[Path, Path]] = []
    for src in inputs:
        name = _output_name(src)
        by_key.setdefault(unicodedata.normalize("NFC", name).casefold(), []).append(src)
        pairs.append((src, out_dir / name))
    clashes = [srcs for srcs in by_key.values() if len(srcs) > 1]
    if clashes:
        lines = [f"  {_output_name(srcs[0])}: " + ", ".join(str(s) for s in srcs) for srcs in clashes]
        raise MedmirError(
            f"{len(clashes)} output name clash(es): these inputs would write the same thumbnail "
            "(outputs are named by file stem, case-insensitively); rename them:\n" + "\n".join(lines)
        )
    return pairs


def _is_fresh(src: Path, dst: Path) -> bool:
    try:
        return dst.stat().st_mtime_ns > src.stat().st_mtime_ns
    except FileNotFoundError:
        return False


def _thumbnail_one(src: str, dst: str, max_side: int) -> _Result:
    """Worker: (bytes_in, bytes_out, failure reason or None). Read failures are returned; write failures raise."""
    try:
        img = load_image(Path(src))
    except ImageReadError as exc:
        return 0, 0, exc.reason
    data = encode_webp(make_thumbnail(img, max_side), quality=WEBP_QUALITY, method=WEBP_METHOD)
    atomic_write_bytes(Path(dst), data)
    return os.path.getsize(src), len(data), None


def _run_serial(jobs: list[tuple[Path, Path]], max_side: int) -> Iterator[tuple[Path, _Result]]:
    for src, dst in jobs:
        yield src, _thumbnail_one(str(src), str(dst), max_side)


def _run_pool(jobs: list[tuple[Path, Path]], max_side: int, workers: int) -> Iterator[tuple[Path, _Result]]:
    executor = spawn_pool(workers)
    try:
        # Submit at most a few jobs per worker ahead, so a strict failure or Ctrl-C stops promptly.
        pending: dict[Future[_Result], tuple[Path, Path]] = {}
        it = iter(jobs)
        while True:
            while len(pending) < 4 * workers and (job := next(it, None)) is not None:
                pending[executor.submit(_thumbnail_one, str(job[0]), str(job[1]), max_side)] = job
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                src = pending.pop(fut)[0]
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    raise MedmirError(f"{src}: a worker process died while processing it (out of memory?)") from None
                yield src, result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def process_images(
    input_dir: Path,
    out_dir: Path,
    *,
    strict: bool = False,
    workers: int | None = None,
    max_side: int = 256,
    force: bool = False,
    on_progress: OnProgress | None = None,
) -> ProcessReport:
    """Write `out_dir/<stem>.webp` (RGB, longest side <= max_side, WebP q85 m6) for every image in `input_dir`.

    Unreadable files are skipped and listed in the report; with `strict=True` the first one raises ImageReadError
    (outputs already written stay: each is complete; the failing file has none). `workers` defaults to all cores;
    1 runs in this process. Raises MedmirError for a missing input folder, no images, or output name clashes.
    Progress goes to `on_progress` (task "thumbnails", reused outputs counted at the start).
    """
    started = time.perf_counter()
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    if not input_dir.exists():
        raise MedmirError(f"{input_dir}: input folder does not exist")
    if not input_dir.is_dir():
        raise MedmirError(f"{input_dir}: input is not a folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise MedmirError(f"{out_dir}: output exists and is not a folder")
    if out_dir.resolve() == input_dir.resolve():
        raise MedmirError(f"{out_dir}: the output folder must differ from the input folder")
    if workers is not None and workers < 1:
        raise MedmirError(f"workers must be at least 1, got {workers}")

    inputs = find_images(input_dir, exclude=out_dir)
    if not inputs:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise MedmirError(f"{input_dir}: no images found (looked recursively for {exts})")
    pairs = plan_outputs(inputs, out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MedmirError(f"{out_dir}: cannot create output folder: {exc.strerror or exc}") from None

    report = ProcessReport()
    jobs: list[tuple[Path, Path]] = []
    for src, dst in pairs:
        if not force and _is_fresh(src, dst):
            report.processed += 1
            report.cached += 1
            report.bytes_in += src.stat().st_size
            report.bytes_out += dst.stat().st_size
        else:
            jobs.append((src, dst))

    n_workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    bar = on_progress or no_progress
    bar("thumbnails", report.cached, len(pairs))
    results = _run_serial(jobs, max_side) if n_workers == 1 else _run_pool(jobs, max_side, n_workers)
    try:
        for src, (n_in, n_out, reason) in results:
            bar("thumbnails", 1, len(pairs))
            if reason is not None:
                if strict:
                    raise ImageReadError(src, reason)
                report.skipped.append((src, reason))
                continue
            report.processed += 1
            report.bytes_in += n_in
            report.bytes_out += n_out
    except OSError as exc:  # writing an output failed: the environment, not the input, is at fault
        raise MedmirError(f"cannot write thumbnail: {exc}") from None
    finally:
        results.close()  # runs _run_pool's finally: cancels queued work and waits for running workers
    report.skipped.sort()
    report.seconds = time.perf_counter() - started
    return report
