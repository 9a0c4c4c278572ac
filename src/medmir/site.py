"""The site stage: built web app + bundle + the pack's INT8 models -> one static folder; and a local server.

Layout of SITE: index.html, assets/ and ort/ (the app and onnxruntime-web's WASM, self-hosted), sw.js,
precache.json (what the service worker stores at install), data/ (the bundle), model/ (manifest.json, vocab.txt,
text.int8.onnx, vision.int8.onnx). Every URL the app uses is relative, so SITE works from any static host and
any sub-path.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import shutil
import socketserver
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from medmir.bundle.format import DATA_FILES, IMAGES, INFO
from medmir.bundle.read import read_info
from medmir.bundle.verify import verify_bundle
from medmir.errors import MedmirError
from medmir.fsutil import staging_dir
from medmir.model.manifest import LEGACY_INT8, MANIFEST_FILE, is_legacy_int8, names_local_path
from medmir.model.pack import ModelPack, check_indexed_with

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
EVAL_FILES = ("metrics.json", "hard_cases.json")
# The service worker precaches everything but these: thumbnails (cached as they are viewed) and the large files
# the search worker downloads, verifies and keeps in Cache Storage itself.
NOT_PRECACHED = (".onnx", "embeddings.bin")


@dataclass(frozen=True)
class SiteReport:
    out: Path
    total_bytes: int
    files: int


def build_site(bundle: Path, pack_dir: Path, out: Path, *, app: Path = WEB_DIST, force: bool = False) -> SiteReport:
    if not (app / "index.html").is_file():
        raise MedmirError(f"{app}: the web app is not built (run `npm --prefix web ci && npm --prefix web run build`)")
    verify_bundle(bundle)
    if read_info(bundle)["format_version"] != 1:
        raise MedmirError(
            f"{bundle}: a format version 2 bundle; the web app reads version 1 so far: index with --bundle-format 1"
        )
    pack = ModelPack.open(pack_dir)
    if is_legacy_int8(pack.manifest):
        raise MedmirError(f"{pack_dir}: {LEGACY_INT8}")
    check_indexed_with(pack, read_info(bundle), bundle)
    check_publishable(pack)
    with staging_dir(out, "site", inputs=[bundle, pack_dir, app], force=force) as tmp:
        shutil.copytree(app, tmp, dirs_exist_ok=True)
        data = tmp / "data"
        data.mkdir()
        for name in (INFO, *DATA_FILES, *(f for f in EVAL_FILES if (bundle / f).is_file())):
            shutil.copyfile(bundle / name, data / name)
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
        rels = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        shell = [r for r in rels if not r.startswith("data/images/") and not r.endswith(NOT_PRECACHED)]
        (tmp / "precache.json").write_text(json.dumps({"files": ["./", *shell]}, indent=1) + "\n", encoding="utf-8")
    files = [p for p in out.rglob("*") if p.is_file()]  # after the rename: the output marker counts too
    return SiteReport(out=out, total_bytes=sum(p.stat().st_size for p in files), files=len(files))


def check_publishable(pack: ModelPack) -> None:
    """Refuse a pack whose manifest (published byte for byte: the browser checks its sha256) names a local path."""
    source = str(pack.manifest["model"].get("source") or "")
    if names_local_path(source):
        raise MedmirError(
            f"{pack.dir}: its manifest.json records the local path {source!r}, which the site would publish; export "
            "the pack again with this medmir (it records only the folder's name) and index again"
        )


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the MIME types the app needs and cross-origin isolation (WASM threads).

    Only files inside the site: `..` is dropped by translate_path, and a symlink that leads out answers 404.
    A connection idle for `timeout` seconds is closed, so a silent client cannot hold a thread forever.
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
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def send_head(self) -> io.BytesIO | BinaryIO | None:  # the base class's (typeshed) signature
        if not self._decodable(self.path):
            self.send_error(400, "Bad request path")
            return None
        if not self._inside_site(self.translate_path(self.path)):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

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
