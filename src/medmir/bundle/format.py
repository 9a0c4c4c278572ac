"""The index bundle contract (docs/FORMAT.md): file names, version, and the helpers both writer and reader use."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

FORMAT_NAME = "medmir-bundle"
FORMAT_VERSION = 1
EMBEDDINGS = "embeddings.bin"
METADATA = "metadata.json"
NEIGHBORS = "nearest_neighbors.json"
FALLBACK = "fallback_results.json"
INFO = "index_info.json"
IMAGES = "images"
DATA_FILES = (EMBEDDINGS, METADATA, NEIGHBORS, FALLBACK)


def normalize_query(text: str) -> str:
    """The key of the exact fallback match: lowercase ASCII letters and digits, every other run one space.

    "Chest X-Ray!" and "chest x ray" share a key. The browser applies the same rule.
    """
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def thumbnail_name(filename: str) -> str:
    return f"{Path(filename).stem}.webp"


def images_digest(entries: list[tuple[str, str]]) -> str:
    """One sha256 over the sorted (name, sha256) pairs of the thumbnails, so index_info stays small at 112k images."""
    h = hashlib.sha256()
    for name, digest in sorted(entries):
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()
