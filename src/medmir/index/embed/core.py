"""The one embedding loop both local backends run (`embed_in_order`): order, the cache, error entries, worker death.

A backend (medmir.index.embed.onnx's `OnnxBackend`, medmir.index.embed.torch's `TorchBackend`) does two things:
`decode` turns image paths into groups of decoded images, in input order, with their model inputs, and `encode`
embeds a batch of those inputs. Everything else is here, once: images the embedding cache holds are found first and
not decoded for the model; inputs are gathered until a batch is full, encoded, written to the cache, and every image
comes back as one `Embedded`, in input order, a bad image as an entry with its error (never a crash); a decoding
worker that dies (out of memory, killed) is one clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file
from medmir.core.workers import spawn_pool
from medmir.index.cache import EmbeddingCache


@dataclass
class Embedded:
    """One image's result: its vector (None with an `error`), its WebP thumbnail if asked, whether from the cache."""

    index: int
    vector: np.ndarray | None
    thumbnail: bytes | None
    error: str | None
    cached: bool


@dataclass
class Decoded:
    """What decoding made of one image: its sha256 (the cache key), thumbnail (if asked) or error; `row`: its model
    input's row among its group's inputs (None: the cache holds its vector, or it has an error)."""

    index: int
    sha: str = ""
    thumbnail: bytes | None = None
    error: str | None = None
    row: int | None = None


@dataclass
class Group:
    """Consecutive images in input order, and their model inputs: arrays or tensors that the backend's `encode`
    concatenates, `rows` rows in all, numbered across them in order."""

    items: list[Decoded]
    inputs: list[Any] = field(default_factory=list)
    rows: int = 0


class Backend(Protocol):
    workers: int  # decoding processes (0: in this process); the cache's hashing pre-pass uses at least one

    def decode(self, paths: Sequence[Path], known: frozenset[int], thumbnails: bool) -> Iterator[Group]:
        """Every path, in order; `known` (indices the cache holds) need no model input."""
        ...

    def encode(self, inputs: list[Any]) -> np.ndarray:
        """float32 [rows, dim] unit vectors of the concatenated `inputs`."""
        ...


def embed_in_order(
    paths: Sequence[Path],
    backend: Backend,
    *,
    cache: EmbeddingCache | None,
    thumbnails: bool,
    batch_size: int,
    hold: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Embedded]:
    """One Embedded per path, in input order. The model runs once at least `batch_size` inputs wait (or, with
    `hold`, once that many images wait, most of them cached: memory stays bounded), and at the end."""
    # The hashing pre-pass reads every file once more: only worth it when the cache can answer something.
    known = cached_vectors(paths, cache, max(1, backend.workers)) if cache is not None else {}
    batch = _Batch(backend, cache, known, on_progress)
    with _worker_deaths(), closing(backend.decode(paths, frozenset(known), thumbnails)) as groups:
        for group in groups:
            batch.add(group)
            if batch.rows >= batch_size or (hold is not None and len(batch.items) >= hold):
                yield from batch.flush()
        yield from batch.flush()


@dataclass
class _Batch:
    """Decoded images waiting for the model, with their inputs; `flush` encodes them and yields their results."""

    backend: Backend
    cache: EmbeddingCache | None
    known: dict[int, np.ndarray]
    on_progress: Callable[[int], None] | None
    items: list[tuple[Decoded, int | None]] = field(default_factory=list)  # (image, row in `inputs`)
    inputs: list[Any] = field(default_factory=list)
    rows: int = 0

    def add(self, group: Group) -> None:
        self.items.extend((d, None if d.row is None else self.rows + d.row) for d in group.items)
        self.inputs.extend(group.inputs)
        self.rows += group.rows

    def flush(self) -> Iterator[Embedded]:
        vecs = self.backend.encode(self.inputs) if self.rows else np.empty((0, 0), np.float32)
        if self.cache is not None:
            fresh = [(d.sha, vecs[r]) for d, r in self.items if r is not None]
            if fresh:
                self.cache.put_many(fresh)
        for d, r in self.items:
            if d.error is not None:
                yield Embedded(d.index, None, None, d.error, False)
            elif r is not None:
                yield Embedded(d.index, vecs[r], d.thumbnail, None, False)
            else:
                yield Embedded(d.index, self.known[d.index], d.thumbnail, None, True)
            if self.on_progress:
                self.on_progress(1)
        self.items, self.inputs, self.rows = [], [], 0


@contextmanager
def _worker_deaths() -> Iterator[None]:
    """A decoding process that died (a process pool's or a torch DataLoader's) as one MedmirError."""
    try:
        yield
    except RuntimeError as exc:  # BrokenProcessPool is one; so is the DataLoader's "DataLoader worker ... exited"
        if isinstance(exc, BrokenProcessPool) or "DataLoader worker" in str(exc):
            raise MedmirError(f"an image-decoding worker process died ({exc}); out of memory? try --workers 1") from exc
        raise


def _sha_only(index: int, path: str) -> Decoded:
    try:
        return Decoded(index, sha=sha256_file(Path(path)))
    except OSError as exc:
        return Decoded(index, error=f"cannot read ({exc.strerror})")


def cached_vectors(paths: Sequence[Path], cache: EmbeddingCache, workers: int) -> dict[int, np.ndarray]:
    """Rows already in the cache (hashing runs in parallel; decoding is skipped for these).

    An empty cache (a first run) answers at once: hashing every file here would only be repeated by the workers.
    """
    if cache.is_empty():
        return {}
    out: dict[int, np.ndarray] = {}
    with _worker_deaths(), spawn_pool(workers) as pool:
        for d in pool.map(_sha_only, range(len(paths)), [str(x) for x in paths], chunksize=64):
            if d.error is None and (vec := cache.get(d.sha)) is not None:
                out[d.index] = vec
    cache.report_bad_rows()
    return out


def check_workers(n: int | None) -> int | None:
    if n is not None and n < 1:
        raise MedmirError(f"--workers must be at least 1, got {n}")
    return n
