"""Batched image encoding with a model pack: parallel decoding, an on-disk cache, bounded memory.

Images are decoded and preprocessed (the manifest's spec) in worker processes; the vision tower runs in this
process with onnxruntime. Embeddings are cached in SQLite keyed by the image bytes' sha256 and the pack
(manifest sha256 + precision), so a re-run only embeds what changed.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file
from medmir.core.workers import spawn_pool
from medmir.index.cache import EmbeddingCache
from medmir.model.pack import ModelPack, Precision


@dataclass
class Prepared:
    """What a worker made of one image: its hash, model input (unless cached), thumbnail (if asked), or an error."""

    index: int
    sha: str = ""
    pixels: np.ndarray | None = None
    thumbnail: bytes | None = None
    error: str | None = None


def prepare_image(index: int, path: str, spec: dict[str, Any], cached: bool, thumb: bool) -> Prepared:
    """Read, hash, decode and preprocess one image (in a pool worker); errors come back in the result."""
    from medmir.imaging.decode import ImageReadError, encode_webp, load_image, make_thumbnail, preprocess_for_model

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return Prepared(index, error=f"cannot read ({exc.strerror})")
    out = Prepared(index, sha=hashlib.sha256(data).hexdigest())
    if cached and not thumb:
        return out
    try:
        img = load_image(Path(path))
    except ImageReadError as exc:
        out.error = str(exc)
        return out
    if not cached:
        out.pixels = preprocess_for_model(img, spec)
    if thumb:
        out.thumbnail = encode_webp(make_thumbnail(img))
    return out


def _sha_only(index: int, path: str) -> Prepared:
    try:
        return Prepared(index, sha=sha256_file(Path(path)))
    except OSError as exc:
        return Prepared(index, error=f"cannot read ({exc.strerror})")


@dataclass
class Embedded:
    index: int
    vector: np.ndarray | None
    thumbnail: bytes | None
    error: str | None
    cached: bool


def embed_images(
    paths: Sequence[Path],
    pack: ModelPack,
    *,
    precision: Precision = "fp32",
    cache: EmbeddingCache | None = None,
    thumbnails: bool = False,
    batch_size: int = 16,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Embedded]:
    """Yield one Embedded per path, in input order, holding only a few batches in memory at a time."""
    spec = pack.manifest["preprocess"]
    workers = workers or os.cpu_count() or 1
    window = max(2 * batch_size, 4 * workers)
    known = cached_vectors(paths, cache, workers) if cache else {}
    pending: deque[Future[Prepared]] = deque()
    ready: list[Prepared] = []

    def flush() -> Iterator[Embedded]:
        todo = [p for p in ready if p.pixels is not None]
        vecs = pack.encode_pixels(np.stack([p.pixels for p in todo]), precision) if todo else np.empty((0,))
        fresh = dict(zip((p.index for p in todo), vecs, strict=True))
        if cache and todo:
            cache.put_many([(p.sha, fresh[p.index]) for p in todo])
        for p in ready:
            if p.error:
                yield Embedded(p.index, None, None, p.error, False)
            elif p.index in fresh:
                yield Embedded(p.index, fresh[p.index], p.thumbnail, None, False)
            else:
                yield Embedded(p.index, known[p.index], p.thumbnail, None, True)
            if on_progress:
                on_progress(1)
        ready.clear()

    with _pool_errors(), spawn_pool(workers) as pool:
        for i, path in enumerate(paths):
            pending.append(pool.submit(prepare_image, i, str(path), spec, i in known, thumbnails))
            while len(pending) >= window or (i == len(paths) - 1 and pending):
                ready.append(pending.popleft().result())
                if sum(p.pixels is not None for p in ready) >= batch_size or not pending:
                    yield from flush()
        yield from flush()


@contextmanager
def _pool_errors() -> Iterator[None]:
    try:
        yield
    except BrokenProcessPool as exc:
        raise MedmirError(f"an image-decoding worker process died ({exc}); out of memory? try --workers 1") from exc


def cached_vectors(paths: Sequence[Path], cache: EmbeddingCache, workers: int) -> dict[int, np.ndarray]:
    """Rows already in the cache (hashing runs in parallel; decoding is skipped for these).

    An empty cache (a first run) answers at once: hashing every file here would only be repeated by the workers.
    """
    if cache.is_empty():
        return {}
    out: dict[int, np.ndarray] = {}
    with _pool_errors(), spawn_pool(workers) as pool:
        for p in pool.map(_sha_only, range(len(paths)), [str(x) for x in paths], chunksize=64):
            if p.error is None and (vec := cache.get(p.sha)) is not None:
                out[p.index] = vec
    cache.report_bad_rows()
    return out


def check_workers(n: int | None) -> int | None:
    if n is not None and n < 1:
        raise MedmirError(f"--workers must be at least 1, got {n}")
    return n
