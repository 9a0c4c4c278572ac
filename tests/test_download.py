"""medmir.data.download against a local HTTP server with Range support, real NIH PNGs and hostile tarballs."""

from __future__ import annotations

import argparse
import gzip
import io
import re
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import NIH_SAMPLE

from medmir.core.errors import MedmirError
from medmir.data import download
from medmir.data.download import RemoteFile, download_nih, parse_archives

PNGS = sorted((NIH_SAMPLE / "images").glob("*.png"))[:4]
LABELS = "Data_Entry_2017_v2020.csv"


@dataclass
class Behaviour:
    """How the server misbehaves for one file."""

    drop_after: int | None = None  # first request: send this many body bytes, then cut the connection
    ignore_range: bool = False  # answer 200 with the whole file even when asked for a range
    extra_length: int = 0  # claim this many more bytes in Content-Length than are sent


@dataclass
class Server:
    root: Path
    url: str = ""
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (file name, Range header)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests_for(self, name: str) -> list[str | None]:
        with self.lock:
            return [r for n, r in self.seen if n == name]


def _handler(srv: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            rng = self.headers.get("Range")
            with srv.lock:
                first = all(n != name for n, _ in srv.seen)
                srv.seen.append((name, rng))
            path = srv.root / name
            if "/" in name or not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            how = srv.behaviour.get(name, Behaviour())
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if m and not how.ignore_range:
                start = int(m[1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Type", "text/csv" if name.endswith(".csv") else "application/gzip")
            self.send_header("Content-Length", str(len(body) + how.extra_length))
            self.end_headers()
            if first and how.drop_after is not None:
                body = body[: how.drop_after]
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

    return Handler


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setattr(download, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(srv))
    srv.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _write_tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))


@pytest.fixture
def release(server: Server) -> Server:
    """images_001.tar.gz with real NIH PNGs under images/, and their rows of the real label file."""
    images = tarfile.TarInfo("images")
    images.type = tarfile.DIRTYPE
    _write_tar(server.root / "images_001.tar.gz", [images, *[(f"images/{p.name}", p.read_bytes()) for p in PNGS]])
    names = {p.name for p in PNGS}
    with gzip.open(NIH_SAMPLE / f"{LABELS}.gz", "rt", encoding="utf-8", newline="") as f:
        rows = [line for i, line in enumerate(f) if i == 0 or line.split(",", 1)[0] in names]
    assert len(rows) == len(PNGS) + 1
    (server.root / LABELS).write_text("".join(rows), encoding="utf-8", newline="")
    return server


def _assert_extracted(out: Path) -> None:
    got = sorted((out / "images_001" / "images").iterdir())
    assert [p.name for p in got] == [p.name for p in PNGS]
    for src, dst in zip(PNGS, got, strict=True):
        assert dst.read_bytes() == src.read_bytes()


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


def test_download_and_extract(release: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = download_nih(out, "1", base_url=release.url + "/")
    _assert_extracted(out)
    assert (out / LABELS).read_bytes() == (release.root / LABELS).read_bytes()
    assert not (out / "images_001.tar.gz").exists()  # deleted after a successful extraction by default
    assert _leftovers(out) == []
    assert report.downloaded == [LABELS, "images_001.tar.gz"]
    assert report.extracted == ["images_001"]
    size = (release.root / LABELS).stat().st_size + (release.root / "images_001.tar.gz").stat().st_size
    assert report.bytes_downloaded == size


def test_rerun_skips_what_is_there_and_keep_archives(release: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    download_nih(out, "1", base_url=release.url, keep_archives=True)
    assert (out / "images_001.tar.gz").read_bytes() == (release.root / "images_001.tar.gz").read_bytes()
    before = len(release.seen)
    report = download_nih(out, "1", base_url=release.url)
    assert len(release.seen) == before  # no request at all: labels and images_001/ are there
    assert report.skipped == [LABELS, "images_001"]
    assert report.downloaded == [] and report.bytes_downloaded == 0
    _assert_extracted(out)


def test_archive_already_downloaded_is_not_fetched_again(release: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "images_001.tar.gz").write_bytes((release.root / "images_001.tar.gz").read_bytes())
    report = download_nih(out, "1", labels=False, base_url=release.url)
    assert release.requests_for("images_001.tar.gz") == []
    assert report.extracted == ["images_001"]
    _assert_extracted(out)


def test_interrupted_transfer_resumes_with_range(release: Server, tmp_path: Path) -> None:
    n = 100_000
    release.behaviour["images_001.tar.gz"] = Behaviour(drop_after=n)
    out = tmp_path / "out"
    download_nih(out, "1", labels=False, base_url=release.url, keep_archives=True)
    assert release.requests_for("images_001.tar.gz") == [None, f"bytes={n}-"]
    assert (out / "images_001.tar.gz").read_bytes() == (release.root / "images_001.tar.gz").read_bytes()
    _assert_extracted(out)


def test_part_file_from_an_earlier_run_is_resumed(release: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    whole = (release.root / "images_001.tar.gz").read_bytes()
    (out / "images_001.tar.gz.part").write_bytes(whole[:12345])
    report = download_nih(out, "1", labels=False, base_url=release.url)
    assert release.requests_for("images_001.tar.gz") == ["bytes=12345-"]
    assert report.bytes_downloaded == len(whole) - 12345
    _assert_extracted(out)


def test_server_ignoring_range_restarts_cleanly(release: Server, tmp_path: Path) -> None:
    release.behaviour["images_001.tar.gz"] = Behaviour(drop_after=50_000, ignore_range=True)
    out = tmp_path / "out"
    download_nih(out, "1", labels=False, base_url=release.url, keep_archives=True)
    # the retry asked for the rest, got the whole file with 200, and must have overwritten, not appended
    assert release.requests_for("images_001.tar.gz") == [None, "bytes=50000-"]
    assert (out / "images_001.tar.gz").read_bytes() == (release.root / "images_001.tar.gz").read_bytes()
    _assert_extracted(out)


def test_progress_counts_each_file_in_bytes_and_the_log_hears_extraction(release: Server, tmp_path: Path) -> None:
    release.behaviour["images_001.tar.gz"] = Behaviour(drop_after=50_000, ignore_range=True)
    seen: dict[str, int] = {}
    totals: dict[str, int | None] = {}
    logged: list[str] = []

    def on_progress(task: str, advance: int, total: int | None) -> None:
        seen[task] = seen.get(task, 0) + advance
        totals.setdefault(task, total)

    download_nih(tmp_path / "out", "1", base_url=release.url, on_progress=on_progress, log=logged.append)
    sizes = {name: (release.root / name).stat().st_size for name in (LABELS, "images_001.tar.gz")}
    assert seen == sizes  # the restart (the server ignored Range) took back the 50,000 bytes it dropped
    assert totals == sizes
    assert logged == ["extracting images_001.tar.gz"]


def test_fewer_bytes_than_content_length(release: Server, tmp_path: Path) -> None:
    release.behaviour[LABELS] = Behaviour(extra_length=10)
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match=rf"{LABELS}: size mismatch"):
        download_nih(out, "1", base_url=release.url)
    assert not (out / LABELS).exists()
    assert _leftovers(out) == []


def _official(server: Server, monkeypatch: pytest.MonkeyPatch, **archive: object) -> None:
    """Point the release's own entries (with their size and MD5 checks) at the test server."""
    real = download.load_release()
    tgz = server.root / "images_001.tar.gz"
    fake = download.Release(
        homepage=real.homepage,
        labels=RemoteFile(LABELS, f"{server.url}/{LABELS}"),
        archives={
            **real.archives,
            1: RemoteFile("images_001.tar.gz", f"{server.url}/images_001.tar.gz", **archive),  # type: ignore[arg-type]
        },
        kaggle_dataset=real.kaggle_dataset,
    )
    assert tgz.is_file()
    monkeypatch.setattr(download, "load_release", lambda: fake)


def test_expected_size_and_md5_from_the_release(
    release: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    data = (release.root / "images_001.tar.gz").read_bytes()
    _official(release, monkeypatch, size=len(data), md5=hashlib.md5(data).hexdigest())
    out = tmp_path / "out"
    download_nih(out, "1")
    _assert_extracted(out)


def test_size_differs_from_the_release(release: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = (release.root / "images_001.tar.gz").stat().st_size
    _official(release, monkeypatch, size=size + 1)
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match=r"images_001\.tar\.gz: size mismatch: the release lists"):
        download_nih(out, "1", labels=False)
    assert sorted(p.name for p in out.iterdir()) == []


def test_md5_differs_from_the_release(release: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    size = (release.root / "images_001.tar.gz").stat().st_size
    _official(release, monkeypatch, size=size, md5="0" * 32)
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match=r"images_001\.tar\.gz: MD5 .* does not match"):
        download_nih(out, "1", labels=False)
    assert sorted(p.name for p in out.iterdir()) == []


def test_persistent_drops_give_up_with_a_clear_error(release: Server, tmp_path: Path) -> None:
    release.behaviour["images_001.tar.gz"] = Behaviour(extra_length=1000, ignore_range=True)
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match=r"images_001\.tar\.gz: download failed after 4 tries: .*run again"):
        download_nih(out, "1", labels=False, base_url=release.url)
    assert len(release.requests_for("images_001.tar.gz")) == 4  # 1 + len(RETRY_DELAYS_S), none after progress
    assert not (out / "images_001").exists()


def test_404_names_the_url(server: Server, tmp_path: Path) -> None:
    with pytest.raises(MedmirError, match=rf"{re.escape(server.url)}/{LABELS}: HTTP 404"):
        download_nih(tmp_path / "out", "2", base_url=server.url)
    assert server.requests_for(LABELS) == [None]  # a 404 is final: no retries


def test_connection_refused_is_a_medmir_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(download, "RETRY_DELAYS_S", (0.0,))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    with pytest.raises(MedmirError, match=rf"{LABELS}: download failed after 2 tries: cannot connect"):
        download_nih(tmp_path / "out", "1", base_url=f"http://127.0.0.1:{port}")


def _evil(server: Server, member: tarfile.TarInfo | tuple[str, bytes]) -> None:
    png = PNGS[0]
    _write_tar(server.root / "images_001.tar.gz", [(f"images/{png.name}", png.read_bytes()), member])


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (("../evil", b"x"), "path leaves the folder"),
        (("images/../../evil", b"x"), "path leaves the folder"),
        (("/tmp/evil", b"x"), "absolute path"),
        ("symlink", "link to"),
        ("hardlink", "link to"),
        ("device", "device"),
    ],
)
def test_unsafe_tar_members_are_refused(
    release: Server, tmp_path: Path, member: tarfile.TarInfo | tuple[str, bytes] | str, why: str
) -> None:
    if member == "symlink":
        member = tarfile.TarInfo("images/evil.png")
        member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif member == "hardlink":
        member = tarfile.TarInfo("images/evil.png")
        member.type, member.linkname = tarfile.LNKTYPE, "../../evil"
    elif member == "device":
        member = tarfile.TarInfo("images/evil")
        member.type = tarfile.CHRTYPE
    assert not isinstance(member, str)
    _evil(release, member)
    name = member.name if isinstance(member, tarfile.TarInfo) else member[0]
    out = tmp_path / "nest" / "out"
    with pytest.raises(MedmirError, match=rf"images_001\.tar\.gz: refusing member {re.escape(repr(name))}: {why}"):
        download_nih(out, "1", labels=False, base_url=release.url)
    # nothing outside OUT, no half-extracted folder; the archive is kept for inspection
    assert sorted(p.name for p in (tmp_path / "nest").iterdir()) == ["out"]
    assert not (tmp_path / "evil").exists()
    assert sorted(p.name for p in out.iterdir()) == ["images_001.tar.gz"]


def test_corrupt_archive_is_a_medmir_error(server: Server, tmp_path: Path) -> None:
    (server.root / "images_001.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 64)
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match=r"images_001\.tar\.gz: not a readable \.tar\.gz"):
        download_nih(out, "1", labels=False, base_url=server.url)
    assert not (out / "images_001").exists()
    assert _leftovers(out) == []


@pytest.mark.parametrize(
    ("spec", "want"),
    [("1,2", [1, 2]), ("3-5", [3, 4, 5]), ("all", list(range(1, 13))), (" ALL ", list(range(1, 13))),
     ("12", [12]), ("5,1-2,2", [1, 2, 5])],
)  # fmt: skip
def test_parse_archives_accepts(spec: str, want: list[int]) -> None:
    assert parse_archives(spec) == want


@pytest.mark.parametrize("spec", ["0", "13", "x", "", "1,", "5-3", "1-13", "-1", "1.5"])
def test_parse_archives_rejects(spec: str) -> None:
    with pytest.raises(MedmirError, match=re.escape(f"archives {spec!r}")):
        parse_archives(spec)


def _no_kaggle_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_kaggle_without_package_or_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_kaggle_credentials(tmp_path, monkeypatch)
    monkeypatch.setattr(download, "_kaggle_importable", lambda: False)
    with pytest.raises(MedmirError, match=r"--source kaggle needs the kaggle package .* and Kaggle credentials"):
        download_nih(tmp_path / "out", source="kaggle")


def test_kaggle_without_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_kaggle_credentials(tmp_path, monkeypatch)
    monkeypatch.setattr(download, "_kaggle_importable", lambda: True)
    with pytest.raises(MedmirError, match=r"--source kaggle needs Kaggle credentials \(~/\.kaggle/kaggle\.json"):
        download_nih(tmp_path / "out", source="kaggle")


def test_release_file_lists_twelve_official_archives() -> None:
    r = download.load_release()
    assert [a.filename for a in r.archives.values()] == [f"images_{i:03d}.tar.gz" for i in range(1, 13)]
    assert all(a.url and a.url.startswith("https://nihcc.box.com/shared/static/") for a in r.archives.values())
    assert all(a.size and a.md5 and len(a.md5) == 32 for a in r.archives.values())
    assert r.labels.filename == LABELS and r.labels.url


def test_cli_register_and_handler(release: Server, tmp_path: Path) -> None:
    from medmir.cli.data import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="action"))
    out = tmp_path / "out"
    args = parser.parse_args(["data", "download", "--out", str(out), "--archives", "1", "--base-url", release.url])
    assert (args.labels, args.source, args.keep_archives) == (True, "nih", False)
    assert args.fn(args) == 0
    _assert_extracted(out)
    args = parser.parse_args(
        ["data", "download", "--out", str(out), "--no-labels", "--source", "kaggle", "--keep-archives"]
    )
    assert (args.labels, args.source, args.keep_archives, args.archives) == (False, "kaggle", True, "all")
