"""Fetch the official NIH ChestX-ray14 release: resumable HTTP downloads, size/MD5 checks, safe extraction.

Layout written under OUT:
    Data_Entry_2017_v2020.csv
    images_001/images/*.png ... images_012/images/*.png

Every file appears whole or not at all: downloads grow in `NAME.part` and are renamed when complete and checked;
an archive is unpacked into a hidden temp folder that becomes `images_NNN` in one rename.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import importlib.util
import json
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path, PurePosixPath

from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.core.progress import OnProgress, no_progress

N_ARCHIVES = 12
CHUNK = 1 << 20
TIMEOUT_S = 60.0
# Waits before each retry after a connection error or short read; the counter resets whenever a try makes progress,
# so a long download over a flaky link survives many drops while a dead server gives up after len(...) tries.
RETRY_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)")


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    url: str | None
    size: int | None = None
    md5: str | None = None


@dataclass(frozen=True)
class Release:
    homepage: str
    labels: RemoteFile
    archives: dict[int, RemoteFile]
    kaggle_dataset: str


@dataclass
class DownloadReport:
    """What one run did. Paths are relative to OUT."""

    downloaded: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_downloaded: int = 0


def load_release() -> Release:
    """The URLs, sizes and checksums of the official release, from resources/data/nih_release.json."""
    doc = json.loads(files("medmir.resources.data").joinpath("nih_release.json").read_text("utf-8"))

    def remote(d: dict[str, object]) -> RemoteFile:
        size, md5, url = d.get("size"), d.get("md5"), d.get("url")
        return RemoteFile(
            filename=str(d["filename"]),
            url=url if isinstance(url, str) else None,
            size=size if isinstance(size, int) else None,
            md5=md5 if isinstance(md5, str) else None,
        )

    archives = {i: remote(d) for i, d in enumerate(doc["archives"], start=1)}
    if sorted(archives) != list(range(1, N_ARCHIVES + 1)):
        raise MedmirError(f"nih_release.json: expected {N_ARCHIVES} archives, found {len(archives)}")
    return Release(
        homepage=doc["homepage"],
        labels=remote(doc["labels"]),
        archives=archives,
        kaggle_dataset=doc["kaggle_dataset"],
    )


def parse_archives(spec: str) -> list[int]:
    """'all', '3', '1,2', '3-5', '1,4-6' -> sorted archive numbers in 1..12."""
    text = spec.strip().lower()
    if text == "all":
        return list(range(1, N_ARCHIVES + 1))
    picked: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise MedmirError(f"archives {spec!r}: {part!r} is not a number or range (use e.g. 1,2 or 3-5 or all)")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if not 1 <= lo <= hi <= N_ARCHIVES:
            raise MedmirError(f"archives {spec!r}: {part!r} is outside 1-{N_ARCHIVES} (or the range is reversed)")
        picked.update(range(lo, hi + 1))
    return sorted(picked)


# --- progress ---------------------------------------------------------------------------------------------------


class _Bar:
    """One file's progress, in bytes, as `on_progress(filename, bytes, size)`. A try that starts over from an
    earlier byte (the server ignored Range, or the part file was dropped) reports the bytes it takes back."""

    def __init__(self, on_progress: OnProgress, name: str) -> None:
        self._report = on_progress
        self._name = name
        self._shown = 0

    def start(self, total: int | None, completed: int) -> None:
        self._report(self._name, completed - self._shown, total)
        self._shown = completed

    def advance(self, n: int) -> None:
        self._shown += n
        self._report(self._name, n, None)


# --- HTTP -------------------------------------------------------------------------------------------------------


class _Retry(Exception):
    """A failure worth another try: connection error, timeout, short body, 5xx."""


class _PastEnd(Exception):
    """HTTP 416: the requested range starts at or past the end; `whole` is the file's size if the server said."""

    def __init__(self, whole: int | None) -> None:
        super().__init__(whole)
        self.whole = whole


def _disk(path: Path, action: str, exc: OSError) -> MedmirError:
    return MedmirError(f"{path}: cannot {action}: {exc.strerror or exc}")


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _drop(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    headers = {"User-Agent": f"medmir/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"  # urllib keeps it across Box's redirects to its CDN
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            m = _CONTENT_RANGE.fullmatch((exc.headers.get("Content-Range") or "").strip())
            raise _PastEnd(int(m[3]) if m and m[3] != "*" else None) from exc
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        raise MedmirError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise _Retry(f"cannot connect: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"connection failed: {exc}") from exc


class _Transfer:
    """One file's download into `dest.part`, resumed with Range across tries."""

    def __init__(self, remote: RemoteFile, dest: Path, bar: _Bar) -> None:
        assert remote.url is not None
        self.url = remote.url
        self.remote = remote
        self.dest = dest
        self.part = dest.with_name(dest.name + ".part")
        self.bar = bar
        self.total: int | None = remote.size  # what the file must end up as, once anyone has said
        self.received = 0

    def _agree(self, total: int | None) -> None:
        if total is None:
            return
        if self.total is None:
            self.total = total
        elif total != self.total:
            _drop(self.part)
            what = "the release lists" if self.remote.size is not None else "the server first said"
            raise MedmirError(
                f"{self.dest.name}: size mismatch: {what} {self.total:,} bytes, "
                f"the server now says {total:,} ({self.url})"
            )

    def attempt(self) -> bool:
        """One request; True when the part file holds the whole file."""
        offset = _size(self.part)
        if self.total is not None and offset > self.total:
            _drop(self.part)  # left by another file or an older release: cannot be a prefix of this one
            offset = 0
        if self.total is not None and offset == self.total and offset > 0:
            return True
        try:
            resp = _open(self.url, offset)
        except _PastEnd as exc:
            if exc.whole is not None and exc.whole == offset:
                self._agree(exc.whole)  # the part was whole but not yet renamed (interrupted at the very end)
                return True
            _drop(self.part)
            raise _Retry(f"server refused range {offset}- (file is {exc.whole} bytes); restarting") from exc
        with contextlib.closing(resp):
            ctype = resp.headers.get("Content-Type", "")
            if ctype.startswith("text/html"):
                raise MedmirError(f"{self.url}: got a web page instead of {self.dest.name} (the link may have moved)")
            length = resp.headers.get("Content-Length")
            body = int(length) if length and length.isdigit() else None
            if resp.status == 206:
                m = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", "").strip())
                if not m or m[1] is None or int(m[1]) != offset:
                    _drop(self.part)
                    raise _Retry(f"server answered range {offset}- with {resp.headers.get('Content-Range')!r}")
                self._agree(None if m[3] == "*" else int(m[3]))
                mode = "ab"
            else:
                offset = 0  # 200: the server ignored Range and sends the whole file; start over, never append
                self._agree(body)
                mode = "wb"
            self.bar.start(self.total, offset)
            try:
                f = self.part.open(mode)
            except OSError as exc:
                raise _disk(self.part, "write", exc) from exc
            with f:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        raise _Retry(f"connection lost: {exc}") from exc
                    if not chunk:
                        break
                    try:
                        f.write(chunk)
                    except OSError as exc:
                        raise _disk(self.part, "write", exc) from exc
                    self.received += len(chunk)
                    self.bar.advance(len(chunk))
        # http.client returns EOF quietly when the peer closes early, so counting bytes is the only tell
        have = _size(self.part)
        end = self.total if self.total is not None else None if body is None else offset + body
        if end is not None and have != end:
            raise _Retry(f"connection closed at byte {have:,} of {end:,}")
        return True

    def finish(self) -> None:
        have = _size(self.part)
        if self.remote.size is not None and have != self.remote.size:
            _drop(self.part)
            raise MedmirError(
                f"{self.dest.name}: size mismatch: got {have:,} bytes, the release lists {self.remote.size:,}"
            )
        if self.remote.md5 is not None:
            got = _md5(self.part)
            if got != self.remote.md5:
                _drop(self.part)
                raise MedmirError(
                    f"{self.dest.name}: MD5 {got} does not match the release's {self.remote.md5}; "
                    "the corrupt download was deleted, run again to fetch it anew"
                )
        try:
            os.replace(self.part, self.dest)
        except OSError as exc:
            raise _disk(self.dest, "rename the finished download to", exc) from exc


def _fetch(remote: RemoteFile, dest: Path, bar: _Bar) -> int:
    """Download `remote` to `dest` (resuming `dest.part`); returns the bytes transferred."""
    t = _Transfer(remote, dest, bar)
    failures = 0
    while True:
        before = _size(t.part)
        try:
            if t.attempt():
                break
        except _Retry as exc:
            if _size(t.part) > before:
                failures = 0
            if failures >= len(RETRY_DELAYS_S):
                raise MedmirError(
                    f"{dest.name}: download failed after {failures + 1} tries: {exc} ({t.url}); "
                    f"run again to resume from {_size(t.part):,} bytes"
                ) from exc
            time.sleep(RETRY_DELAYS_S[failures])
            failures += 1
    t.finish()
    return t.received


# --- extraction -------------------------------------------------------------------------------------------------


def _check_member(archive: Path, m: tarfile.TarInfo) -> PurePosixPath:
    name = PurePosixPath(m.name)
    if name.is_absolute() or m.name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", m.name):
        raise MedmirError(f"{archive.name}: refusing member {m.name!r}: absolute path")
    if ".." in name.parts:
        raise MedmirError(f"{archive.name}: refusing member {m.name!r}: path leaves the folder")
    if m.issym() or m.islnk():
        raise MedmirError(f"{archive.name}: refusing member {m.name!r}: link to {m.linkname!r}")
    if not (m.isfile() or m.isdir()):
        raise MedmirError(f"{archive.name}: refusing member {m.name!r}: device, FIFO or other special file")
    return name


def _extract(archive: Path, final: Path) -> None:
    """Unpack `archive` into `final` (regular files and folders only), all at once or not at all."""
    try:
        with tarfile.open(archive, "r:gz") as tar, staging_dir(final, "data download", inputs=[archive]) as tmp:
            root = tmp.resolve()
            for m in tar:
                rel = _check_member(archive, m)
                target = root.joinpath(*[p for p in rel.parts if p not in ("", ".")])
                if target != root and root not in target.parents:
                    raise MedmirError(f"{archive.name}: refusing member {m.name!r}: path leaves the folder")
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                os.utime(target, (m.mtime, m.mtime))
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise MedmirError(
            f"{archive}: not a readable .tar.gz ({exc}); delete it and run again to download it anew"
        ) from exc
    except OSError as exc:
        raise MedmirError(f"{final}: cannot extract {archive.name}: {exc.strerror or exc}") from exc


# --- Kaggle -----------------------------------------------------------------------------------------------------


def _kaggle_importable() -> bool:
    return importlib.util.find_spec("kaggle") is not None


def _kaggle_credentials() -> bool:
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return True
    folder = os.environ.get("KAGGLE_CONFIG_DIR")
    config = Path(folder) if folder else Path.home() / ".kaggle"
    return (config / "kaggle.json").is_file()


def _download_kaggle(out: Path, dataset: str, archives: list[int], progress: bool) -> DownloadReport:
    """The whole data set through the kaggle client, which draws its own progress when `progress`."""
    if archives != list(range(1, N_ARCHIVES + 1)):
        raise MedmirError("the Kaggle source downloads the whole data set: use --archives all, or --source nih")
    missing = []
    if not _kaggle_importable():
        missing.append("the kaggle package (pip install kaggle)")
    if not _kaggle_credentials():
        missing.append("Kaggle credentials (~/.kaggle/kaggle.json, or KAGGLE_USERNAME and KAGGLE_KEY)")
    if missing:
        raise MedmirError(f"--source kaggle needs {' and '.join(missing)}")
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi  # type: ignore[import-not-found]

        api = KaggleApi()
        api.authenticate()
        api.dataset_download_files(dataset, path=str(out), unzip=True, quiet=not progress)
    except Exception as exc:  # the kaggle client raises many unrelated types; all are user-facing here
        raise MedmirError(f"kaggle dataset {dataset}: {exc}") from exc
    return DownloadReport(downloaded=[dataset])


# --- entry point ------------------------------------------------------------------------------------------------


def download_nih(
    out: Path,
    archives: str = "all",
    *,
    labels: bool = True,
    source: str = "nih",
    base_url: str | None = None,
    keep_archives: bool = False,
    on_progress: OnProgress | None = None,
    log: Callable[[str], None] | None = None,
) -> DownloadReport:
    """Fetch the NIH label CSV and the chosen image archives into `out`, extracting each to `images_NNN/images/`.

    Re-runs skip what is already there and resume partial downloads. With `base_url`, every file comes from
    `{base_url}/{filename}` and is trusted for its own Content-Length (the release's sizes and MD5s describe NIH's
    files, not a mirror's). Each file's bytes go to `on_progress` (task: the file name); `log` hears "extracting
    ARCHIVE" before each extraction.
    """
    picked = parse_archives(archives)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk(out, "create", exc) from exc
    release = load_release()
    if source == "kaggle":
        return _download_kaggle(out, release.kaggle_dataset, picked, on_progress is not None)
    if source != "nih":
        raise MedmirError(f"unknown source {source!r} (use nih or kaggle)")

    def resolve(r: RemoteFile) -> RemoteFile:
        if base_url is not None:
            return RemoteFile(r.filename, f"{base_url.rstrip('/')}/{r.filename}")
        if r.url is None:
            raise MedmirError(f"{r.filename}: no download link known; fetch it from {release.homepage} into {out}")
        return r

    report = DownloadReport()
    bar = on_progress or no_progress
    if labels:
        dest = out / release.labels.filename
        if dest.is_file():
            report.skipped.append(dest.name)
        else:
            remote = resolve(release.labels)
            report.bytes_downloaded += _fetch(remote, dest, _Bar(bar, remote.filename))
            report.downloaded.append(remote.filename)
    for i in picked:
        remote = resolve(release.archives[i])
        folder = out / f"images_{i:03d}"
        if folder.is_dir():
            report.skipped.append(folder.name)
            continue
        archive = out / remote.filename
        if not archive.is_file():  # a finished download is renamed into place, so this one is whole
            report.bytes_downloaded += _fetch(remote, archive, _Bar(bar, remote.filename))
            report.downloaded.append(remote.filename)
        if log is not None:
            log(f"extracting {archive.name}")
        _extract(archive, folder)
        report.extracted.append(folder.name)
        if not keep_archives:
            try:
                archive.unlink()
            except OSError as exc:
                raise _disk(archive, "delete", exc) from exc
    return report
