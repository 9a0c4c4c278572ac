"""`medmir serve`: a local HTTP server for a built site (site/build.py).

Static files with the MIME types the app needs and cross-origin isolation (WASM threads); single-range HTTP Range
requests answered (a version 2 page fetches one thumbnail out of a pack that way); a precompressed gzip sibling sent
whole to a browser that takes it.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import http.server
import io
import os
import re
import socketserver
import sys
import urllib.parse
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Literal

from medmir.core.errors import MedmirError
from medmir.site.precompress import accepts_gzip, gzip_sibling

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
