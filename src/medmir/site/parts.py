"""Files too large for a static host, published in parts: `NAME.part-000`, `NAME.part-001`, ... of at most
PART_BYTES each, listed in the site's `parts.json`. Several hosts refuse any file over 25 MB, and a site needs the
INT8 text model (~110 MB) and, at 500,000 images, a large metadata.json. The page fetches the parts, joins them and
checks the whole file's sha256 against its manifest, as for any other file; the site's files stay the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmir.core.fsutil import atomic_write_json

PARTS_FILE = "parts.json"
PART_BYTES = 20 * 1024 * 1024  # under 25 MB with room to spare, MB or MiB
_CHUNK = 1 << 20


def part_name(name: str, i: int) -> str:
    return f"{name}.part-{i:03d}"


SPLIT_FOLDERS = ("data", "model")  # what the search worker downloads (it joins parts); the app's files stay whole


def split_large_files(site: Path, part_bytes: int = PART_BYTES) -> dict[str, Any]:
    """Replace every file of the site's data/ and model/ (a folder this command is writing) over `part_bytes` by its
    parts; write and return parts.json: `{"format": "medmir-parts", "part_bytes", "files": {PATH: {"bytes",
    "parts": [PATH, ...]}}}` with paths relative to the site."""
    files: dict[str, Any] = {}
    big = (p for d in SPLIT_FOLDERS for p in (site / d).rglob("*") if p.is_file() and p.stat().st_size > part_bytes)
    for path in sorted(big):
        rel = path.relative_to(site).as_posix()
        size, parts = path.stat().st_size, []
        with path.open("rb") as src:
            for i in range((size + part_bytes - 1) // part_bytes):
                out = path.with_name(part_name(path.name, i))
                _copy_part(src, out, part_bytes)
                parts.append(out.relative_to(site).as_posix())
        path.unlink()  # our own copy, written moments ago into the staging folder
        files[rel] = {"bytes": size, "parts": parts}
    doc = {"format": "medmir-parts", "part_bytes": part_bytes, "files": files}
    atomic_write_json(site / PARTS_FILE, doc)
    return doc


def _copy_part(src: Any, out: Path, limit: int) -> None:
    with out.open("wb") as dst:
        left = limit
        while left > 0 and (block := src.read(min(_CHUNK, left))):
            dst.write(block)
            left -= len(block)


def join_parts(site: Path, rel: str) -> bytes:
    """A split file's bytes, joined (for tests and tools)."""
    doc = json.loads((site / PARTS_FILE).read_text(encoding="utf-8"))
    entry = doc["files"][rel]
    return b"".join((site / p).read_bytes() for p in entry["parts"])
