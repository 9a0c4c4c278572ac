"""The site stage: built web app + bundle + the pack's INT8 models -> one static folder; and a local server.

Layout of SITE: index.html, assets/ and ort/ (the app and onnxruntime-web's WASM, self-hosted), sw.js,
precache.json (the app shell, which the service worker stores at install), data/ (the bundle: index_info.json and
the files it lists; version 1 also images/), model/ (manifest.json, vocab.txt, text.int8.onnx, vision.int8.onnx).
Every URL the app uses is relative, so SITE works from any static host and any sub-path. `medmir serve` answers
single-range HTTP Range requests (a version 2 page fetches one thumbnail out of a pack that way).
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import http.server
import io
import json
import os
import re
import shutil
import socketserver
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

from medmir.bundle.format import DATA_FILES, IMAGES, INFO
from medmir.bundle.read import read_info
from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.model.manifest import LEGACY_INT8, MANIFEST_FILE, is_legacy_int8, names_local_path
from medmir.model.pack import ModelPack, check_indexed_with
from medmir.site.parts import PART_BYTES, PARTS_FILE, split_large_files
from medmir.site.paths import WEB_DIST
from medmir.site.precompress import accepts_gzip, gzip_sibling, write_gzip_siblings

EVAL_FILES = ("metrics.json", "hard_cases.json")
# The service worker precaches the app shell only: the search worker downloads every file of these folders itself,
# checks its sha256 and keeps it in Cache Storage (precaching them too downloaded each one twice on a first visit),
# and thumbnails are cached as they are viewed. onnxruntime-web's runtime (ort/) is asked for by a versioned URL,
# ort/FILE?v=VERSION (VERSION: ort/VERSION, written by the app's build), and precached under that URL.
NOT_PRECACHED = ("data/", "model/", PARTS_FILE)
# except the two small contracts the search worker reads first: a first visit's worker starts before the service
# worker controls the page, so without these an offline visit after one online visit could not start
CONTRACTS = (f"data/{INFO}", f"model/{MANIFEST_FILE}")
RUNTIME_VERSION = "ort/VERSION"


@dataclass(frozen=True)
class SiteReport:
    out: Path
    total_bytes: int
    files: int


def build_site(
    bundle: Path, pack_dir: Path, out: Path, *, app: Path = WEB_DIST, force: bool = False, part_bytes: int = PART_BYTES
) -> SiteReport:
    """`part_bytes`: files larger than this are published in parts (src/medmir/parts.py)."""
    if not (app / "index.html").is_file():
        raise MedmirError(f"{app}: the web app is not built (run `npm --prefix web ci && npm --prefix web run build`)")
    verify_bundle(bundle)
    info = read_info(bundle)
    pack = ModelPack.open(pack_dir)
    if is_legacy_int8(pack.manifest):
        raise MedmirError(f"{pack_dir}: {LEGACY_INT8}")
    check_indexed_with(pack, info, bundle)
    check_publishable(pack)
    with staging_dir(out, "site", inputs=[bundle, pack_dir, app], force=force) as tmp:
        shutil.copytree(app, tmp, dirs_exist_ok=True)
        data = tmp / "data"
        data.mkdir()
        for name in bundle_files(bundle, info):
            shutil.copyfile(bundle / name, data / name)
        if info["format_version"] == 1:
            shutil.copytree(bundle / IMAGES, data / IMAGES)
        model = tmp / "model"
        model.mkdir()
        m = pack.manifest
        for name in (
            MANIFEST_FILE,
            m["tokenizer"]["vocab"],
            m["models"]["text"]["int8"],
            m["models"]["vision"]["int8"],
        ):
            shutil.copyfile(pack.dir / name, model / name)
        split_large_files(tmp, part_bytes)
        write_gzip_siblings(tmp)
        rels = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file() and p.suffix != ".gz")
        shell = precached(tmp, [r for r in rels if not r.startswith(NOT_PRECACHED) or r in CONTRACTS])
        (tmp / "precache.json").write_text(json.dumps({"files": ["./", *shell]}, indent=1) + "\n", encoding="utf-8")
    files = [p for p in out.rglob("*") if p.is_file()]  # after the rename: the output marker counts too
    return SiteReport(out=out, total_bytes=sum(p.stat().st_size for p in files), files=len(files))


def precached(site: Path, shell: list[str]) -> list[str]:
    """The app shell's URLs for the service worker: the runtime's as the search worker asks for them (without
    ort/VERSION, none when the app names no version)."""
    version_file = site / RUNTIME_VERSION
    version = version_file.read_text(encoding="utf-8").strip() if version_file.is_file() else ""
    out = []
    for rel in shell:
        if not rel.startswith("ort/"):
            out.append(rel)
        elif version and rel != RUNTIME_VERSION:
            out.append(f"{rel}?v={urllib.parse.quote(version, safe='')}")
    return out


def bundle_files(bundle: Path, info: dict[str, Any]) -> list[str]:
    """The bundle's files the site publishes in data/, index_info.json first (version 1: its thumbnails too, in
    images/, which the caller copies). Version 2: exactly what index_info.json lists (shards, packs, metadata,
    fallback results, evaluation files), each a plain file name of the bundle folder."""
    if info["format_version"] == 1:
        return [INFO, *DATA_FILES, *(f for f in EVAL_FILES if (bundle / f).is_file())]
    names = sorted(info["files"])
    for name in names:
        if not isinstance(name, str) or not name or name != Path(name).name or name.startswith(".") or name == INFO:
            raise MedmirError(f"{bundle / INFO}: files lists {name!r}, not a file name of the bundle folder")
    return [INFO, *names]


def check_publishable(pack: ModelPack) -> None:
    """Refuse a pack whose manifest (published byte for byte: the browser checks its sha256) names a local path."""
    source = str(pack.manifest["model"].get("source") or "")
    if names_local_path(source):
        raise MedmirError(
            f"{pack.dir}: its manifest.json records the local path {source!r}, which the site would publish; export "
            "the pack again with this medmir (it records only the folder's name) and index again"
        )


IMMUTABLE = "public, max-age=31536000, immutable"


def immutable_url(path: str) -> bool:
    """URLs that name their content: the build's hashed assets/, and the WASM runtime asked for as ort/FILE?v=VERSION
    (web/public/sw.js leaves it to the HTTP cache, which then serves it, compiled code and all, without asking again,
    even when this server has stopped)."""
    u = urllib.parse.urlsplit(path)
    parts = u.path.split("/")
    if len(parts) >= 2 and parts[-2] == "ort":
        return "v=" in u.query
    return len(parts) >= 2 and parts[-2] == "assets"


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the MIME types the app needs and cross-origin isolation (WASM threads).

    Only files inside the site: `..` is dropped by translate_path, and a symlink that leads out answers 404.
    A connection idle for `timeout` seconds is closed, so a silent client cannot hold a thread forever.
    One byte range (`Range: bytes=A-B`, `bytes=A-`, `bytes=-N`) answers 206 with just those bytes, read from the
    file as they are sent; an unsatisfiable one 416; a malformed or multi-range header the whole file (RFC 9110).
    """

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".json": "application/json",
        ".onnx": "application/octet-stream",
        ".bin": "application/octet-stream",
        ".webp": "image/webp",
        ".txt": "text/plain; charset=utf-8",
    }

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self.timeout = timeout  # before super().__init__, which handles the request: setup() applies it to the socket
        super().__init__(*args, **kwargs)

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        ok = getattr(self, "_status", 0) in (200, 206)  # an error is never cached for a year
        self.send_header("Cache-Control", IMMUTABLE if ok and immutable_url(self.path) else "no-cache")
        super().end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def send_head(self) -> io.BytesIO | BinaryIO | None:  # the base class's (typeshed) signature
        self._send_length: int | None = None  # bytes copyfile sends of the file send_head returns
        if not self._decodable(self.path):
            self.send_error(400, "Bad request path")
            return None
        path = self.translate_path(self.path)
        if not self._inside_site(path):
            self.send_error(404, "File not found")
            return None
        if os.path.isdir(path):
            index = next((p for n in ("index.html", "index.htm") if os.path.isfile(p := os.path.join(path, n))), None)
            if index is None or not urllib.parse.urlsplit(self.path).path.endswith("/"):
                return super().send_head()  # the base class's redirect to the URL with a slash, or no listing
            path = index
        if path.endswith("/"):  # a file's name with a slash after it (the base class's rule)
            self.send_error(404, "File not found")
            return None
        ctype = self.guess_type(path)
        # a whole file to a browser that takes gzip: its precompressed sibling (ranges are of the plain bytes)
        encoded = None
        if "Range" not in self.headers and accepts_gzip(self.headers.get("Accept-Encoding")):
            encoded = gzip_sibling(path)
        try:
            f = open(encoded or path, "rb")  # noqa: SIM115 (the caller, do_GET or do_HEAD, closes it)
        except OSError:
            self.send_error(404, "File not found")
            return None
        try:
            return self._send_file_head(f, ctype, encoded is not None)
        except BaseException:
            f.close()
            raise

    def _send_file_head(self, f: BinaryIO, ctype: str, gzipped: bool = False) -> BinaryIO | None:
        fs = os.fstat(f.fileno())
        size, modified = fs.st_size, self.date_time_string(fs.st_mtime)
        if self._not_modified(fs.st_mtime):
            f.close()
            self.send_response(304)
            self.end_headers()
            return None
        span = None if self.headers.get("If-Range", modified) != modified else parse_range(self.headers["Range"], size)
        if span == "unsatisfiable":
            f.close()
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            return None
        start, end = span or (0, size - 1)
        self.send_response(206 if span else 200)
        self.send_header("Content-type", ctype)
        self.send_header("Content-Length", str(end - start + 1))
        if span:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        else:
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", modified)
        self.end_headers()
        f.seek(start)
        self._send_length = end - start + 1
        return f

    def _not_modified(self, mtime: float) -> bool:
        """The base class's If-Modified-Since rule (ignored when If-None-Match is sent, or the date is bad)."""
        if "If-Modified-Since" not in self.headers or "If-None-Match" in self.headers:
            return False
        try:
            since = email.utils.parsedate_to_datetime(self.headers["If-Modified-Since"])
        except (TypeError, IndexError, OverflowError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=datetime.UTC)
        if since.tzinfo is not datetime.UTC:
            return False
        return datetime.datetime.fromtimestamp(mtime, datetime.UTC).replace(microsecond=0) <= since

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """Send what the headers announced: `_send_length` bytes from where send_head left the file, in chunks."""
        left = self._send_length
        if left is None:
            super().copyfile(source, outputfile)
            return
        while left > 0 and (chunk := source.read(min(left, 1 << 16))):
            outputfile.write(chunk)
            left -= len(chunk)

    @staticmethod
    def _decodable(url: str) -> bool:
        """A URL path that is UTF-8 without NUL once %-decoded; anything else made open() raise (no reply at all)."""
        raw = urllib.parse.unquote_to_bytes(url.split("?", 1)[0].split("#", 1)[0])
        try:
            return "\0" not in raw.decode("utf-8")
        except UnicodeDecodeError:
            return False

    def _inside_site(self, path: str) -> bool:
        """Whether `path`, with every symlink followed, stays in the site (realpath, unlike Path.resolve, never
        raises on a symlink loop). A folder serves its index.html, which may itself be a link."""
        root = Path(os.path.realpath(self.directory))
        served = [path]
        if os.path.isdir(path):
            served += [os.path.join(path, "index.html"), os.path.join(path, "index.htm")]
        return all(Path(os.path.realpath(p)).is_relative_to(root) for p in served)

    def list_directory(self, path: str | os.PathLike[str]):  # type: ignore[override]
        self.send_error(404, "No directory listings")
        return None

    def log_message(self, format: str, *args: object) -> None:
        pass


_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """A `Range` header against a file of `size` bytes: (first, last) inclusive, "unsatisfiable" (answer 416), or
    None (answer the whole file: no header, a malformed one, several ranges, or a suffix of an empty file)."""
    m = _RANGE.fullmatch(header.strip()) if header else None
    if m is None or m.groups() == ("", ""):
        return None
    try:
        first, last = (int(g) if g else None for g in m.groups())
    except ValueError:  # more digits than int() reads: malformed
        return None
    if first is None:  # bytes=-N: the last N bytes
        assert last is not None
        if last == 0:
            return "unsatisfiable"
        return (max(size - last, 0), size - 1) if size else None
    if last is not None and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, size - 1 if last is None else min(last, size - 1)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a browser that cancels a download (a new search, a closed tab) is routine, not a traceback on the console
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def make_server(
    site: Path, host: str = "127.0.0.1", port: int = 8000, *, timeout: float = 30.0
) -> http.server.HTTPServer:
    """A threaded server for `site`; `timeout`: seconds a connection may stay silent before it is closed."""
    if not (site / "index.html").is_file():
        raise MedmirError(f"{site}: not a medmir site (no index.html); build one with `medmir site`")
    handler = functools.partial(SiteHandler, directory=str(site), timeout=timeout)
    try:
        return _Server((host, port), handler)
    except OSError as exc:
        raise MedmirError(f"cannot listen on {host}:{port} ({exc.strerror})") from exc
