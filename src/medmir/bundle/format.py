"""The index bundle contract (docs/FORMAT.md): file names, version, and the helpers both writer and reader use."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

FORMAT_NAME = "medmir-bundle"
# index_info.json `warning` of a random-weight bundle, and what every command prints for one
RANDOM_WARNING = "random weights: results are meaningless"
READABLE_VERSIONS = (1, 2)  # what every reader accepts (bundle.info, verify, search, evaluate, site)
# What the writer, `build_index`, `medmir index` and `medmir build` write unless told otherwise: version 2 (int8
# rows in shards, thumbnail packs, columnar metadata), the one a 112,120-image collection needs. Version 1 (float32
# embeddings.bin, nearest_neighbors.json, images/) stays available with `bundle_format=1` / `--bundle-format 1`.
DEFAULT_BUNDLE_FORMAT = 2
EMBEDDINGS = "embeddings.bin"
METADATA = "metadata.json"
NEIGHBORS = "nearest_neighbors.json"
FALLBACK = "fallback_results.json"
INFO = "index_info.json"
IMAGES = "images"
DATA_FILES = (EMBEDDINGS, METADATA, NEIGHBORS, FALLBACK)
# `medmir evaluate` adds these to the bundle (and to index_info.json's files)
METRICS = "metrics.json"
HARD_CASES = "hard_cases.json"
EVAL_FILES = (METRICS, HARD_CASES)


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


# Version 2 (docs/FORMAT.md): compact rows in shards, so no file passes 25 MB at 500,000 images and a page can
# start on the first shards. Row r lives in shard r // SHARD_ROWS; thumbnail r in pack r // THUMBS_PER_PACK.
SHARD_ROWS = 32768
THUMBS_PER_PACK = 2048
SCALES = "scales.f32"
THUMB_INDEX = "thumbs.idx"


def embedding_shard(i: int) -> str:
    return f"embeddings-{i:03d}.i8"


def neighbor_ids_shard(i: int) -> str:
    return f"neighbors-{i:03d}.i32"


def neighbor_scores_shard(i: int) -> str:
    return f"neighbor-scores-{i:03d}.f32"


def thumb_pack(i: int) -> str:
    return f"thumbs-{i:03d}.pack"


def shard_count(n: int, per: int) -> int:
    return (n + per - 1) // per
