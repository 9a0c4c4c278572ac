"""Precompressed siblings of a site's files: `NAME.gz` beside NAME, served by `medmir serve` with
`Content-Encoding: gzip` to a browser that accepts it (and by any static host that serves precompressed files, e.g.
nginx `gzip_static`). On the wire the onnxruntime WASM shrinks about 4x and a large collection's metadata.json
about 15x; the page still verifies the decoded bytes against their sha256.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path

# what compresses: text, JSON, code, WASM, and the ONNX graphs (INT8 weights compress a little); not thumbnails
# (WebP) nor int8 rows, which are already dense
COMPRESSIBLE = (".json", ".js", ".mjs", ".css", ".html", ".txt", ".wasm", ".onnx", ".idx", ".svg")
MIN_BYTES = 1024
MAX_RATIO = 0.95  # keep a sibling only when it saves at least 5% (the INT8 text model: about 9%)


def _kind(path: Path) -> str:
    """The file's type, also for a part of a split file (`text.int8.onnx.part-002` is ONNX; src/medmir/parts.py)."""
    return Path(re.sub(r"\.part-\d+$", "", path.name)).suffix


def write_gzip_siblings(folder: Path) -> list[Path]:
    """NAME.gz for every compressible file (or part of one) under `folder` worth it; returns the siblings written."""
    written = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and _kind(p) in COMPRESSIBLE):
        size = path.stat().st_size
        if size < MIN_BYTES:
            continue
        out = path.with_name(path.name + ".gz")
        with path.open("rb") as src, out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            shutil.copyfileobj(src, gz, 1 << 20)  # mtime=0: the same site bytes from the same inputs
        if out.stat().st_size > MAX_RATIO * size:
            out.unlink()
        else:
            written.append(out)
    return written


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (RFC 9110: a coding with q=0 is refused)."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _q(q[2:]) == 0)
    return False


def _q(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 1.0


def gzip_sibling(path: str) -> str | None:
    """NAME.gz when it exists and is not older than NAME (a stale sibling is never served)."""
    gz = path + ".gz"
    try:
        return gz if os.stat(gz).st_mtime >= os.stat(path).st_mtime else None
    except OSError:
        return None
