"""The onnxruntime backend of the local engine: the pack's ONNX vision model, images decoded in worker processes.

Images are decoded and preprocessed (the manifest's spec) in spawned worker processes, a bounded window of them in
flight; the vision tower runs in this process with onnxruntime. Order, the SQLite embedding cache (keyed by the
image bytes' sha256 and the pack: manifest sha256 + precision, so a re-run only embeds what changed) and error
entries are medmir.index.embed.core's.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmir.core.workers import spawn_pool
from medmir.imaging.decode import encode_webp, load_image, make_thumbnail, preprocess_for_model
from medmir.imaging.errors import ImageReadError
from medmir.index.cache import EmbeddingCache
from medmir.index.embed.core import Decoded, Embedded, Group, embed_in_order
from medmir.model.manifest import PreprocessSpec
from medmir.model.pack import ModelPack, Precision

DEFAULT_BATCH = 16


@dataclass
class Prepared:
    """What a worker made of one image: its hash, model input (unless cached), thumbnail (if asked), or an error."""

    index: int
    sha: str = ""
    pixels: np.ndarray | None = None
    thumbnail: bytes | None = None
    error: str | None = None


def prepare_image(index: int, path: str, spec: PreprocessSpec, cached: bool, thumb: bool) -> Prepared:
    """Read, hash, decode and preprocess one image (in a pool worker, here and in the Ray engine's decode tasks);
    errors come back in the result."""
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


def _group(p: Prepared) -> Group:
    if p.pixels is None:
        return Group([Decoded(p.index, p.sha, p.thumbnail, p.error)])
    return Group([Decoded(p.index, p.sha, p.thumbnail, p.error, row=0)], [p.pixels[None]], 1)


class OnnxBackend:
    """The pack's ONNX vision model at `precision`; `workers` spawned processes decode (default: one a core)."""

    def __init__(self, pack: ModelPack, precision: Precision, *, batch_size: int, workers: int | None = None):
        self.pack = pack
        self.precision = precision
        self.workers = workers or os.cpu_count() or 1
        self.window = max(2 * batch_size, 4 * self.workers)  # images in flight: a few batches, every worker busy

    def decode(self, paths: Sequence[Path], known: frozenset[int], thumbnails: bool) -> Iterator[Group]:
        spec = self.pack.preprocess
        pending: deque[Future[Prepared]] = deque()
        with spawn_pool(self.workers) as pool:
            for i, path in enumerate(paths):
                pending.append(pool.submit(prepare_image, i, str(path), spec, i in known, thumbnails))
                while len(pending) >= self.window or (i == len(paths) - 1 and pending):
                    yield _group(pending.popleft().result())

    def encode(self, inputs: list[np.ndarray]) -> np.ndarray:
        return self.pack.encode_pixels(np.concatenate(inputs), self.precision)


def embed_images(
    paths: Sequence[Path],
    pack: ModelPack,
    *,
    precision: Precision = "fp32",
    cache: EmbeddingCache | None = None,
    thumbnails: bool = False,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Embedded]:
    """Yield one Embedded per path, in input order, holding only a few batches in memory at a time."""
    backend = OnnxBackend(pack, precision, batch_size=batch_size, workers=workers)
    return embed_in_order(
        paths, backend, cache=cache, thumbnails=thumbnails, batch_size=batch_size, on_progress=on_progress
    )
