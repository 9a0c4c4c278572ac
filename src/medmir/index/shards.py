"""Embedding shards: what the Ray engine (medmir.index.ray) has embedded so far, keyed by image sha256, on disk.

A run writes one shard per finished batch (atomically: temp file + rename), so a run that is stopped, however it is
stopped, leaves only whole shards, and the next run embeds only what no shard holds. Layout of a store folder:

    store.json              {"format": "medmir-embedding-shards", "version": 1, "pack", "precision", "dim"}
    shard-<uuid>.npz        arrays of one batch: sha (str), source (str: the image's path), size, mtime_ns (int64),
                            vector (float32 [n, dim]; zeros for an error), error (str; "" when embedded)
    thumbs/<sha>.webp       the thumbnail made while decoding (when the run made thumbnails)

A source is known when its path, size and modification time equal a shard row's (no re-hashing on resume). A shard
that cannot be read (damaged) is set aside as `<name>.damaged` and its images are embedded again.
"""

from __future__ import annotations

import json
import os
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json

FORMAT = "medmir-embedding-shards"
VERSION = 1
THUMBS = "thumbs"


@dataclass(frozen=True)
class Row:
    sha: str
    vector: np.ndarray | None  # None: the image could not be embedded (`error` says why)
    error: str


@dataclass(frozen=True)
class Source:
    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> Source:
        st = path.stat()
        return cls(str(path), st.st_size, st.st_mtime_ns)


class ShardStore:
    """One folder of shards for one pack and precision (`open` creates it or checks it is such a store)."""

    def __init__(self, folder: Path, pack_sha256: str, precision: str, dim: int) -> None:
        self.folder, self.dim = folder, dim
        want = {"format": FORMAT, "version": VERSION, "pack": pack_sha256, "precision": precision, "dim": dim}
        info = folder / "store.json"
        if info.is_file():
            try:
                have = json.loads(info.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise MedmirError(f"{info}: not readable ({exc})") from None
            if have != want:
                raise MedmirError(f"{folder}: shards of another pack or precision ({have}); give another --shards")
        elif folder.exists() and any(folder.iterdir()):
            raise MedmirError(f"{folder}: not empty and not a shard store (no store.json); give another --shards")
        else:
            (folder / THUMBS).mkdir(parents=True, exist_ok=True)
            atomic_write_json(info, want)
        (folder / THUMBS).mkdir(exist_ok=True)
        self._rows: dict[Source, Row] = {}
        self._read_all()

    def _read_all(self) -> None:
        for shard in sorted(self.folder.glob("shard-*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    n = len(z["sha"])
                    vectors = z["vector"].reshape(n, self.dim).astype(np.float32)
                    fields = zip(z["sha"], z["source"], z["size"], z["mtime_ns"], vectors, z["error"], strict=True)
                    for sha, src, size, mtime, vec, err in fields:
                        row = Row(str(sha), None if err else vec, str(err))
                        self._rows[Source(str(src), int(size), int(mtime))] = row
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                os.replace(shard, shard.with_suffix(".damaged"))
                warnings.warn(f"{shard}: damaged ({exc}); set aside, its images are embedded again", stacklevel=2)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, source: Source) -> Row | None:
        return self._rows.get(source)

    def thumbnail(self, sha: str) -> Path:
        return self.folder / THUMBS / f"{sha}.webp"

    def add(self, sources: list[Source], rows: list[Row], thumbnails: list[bytes | None]) -> None:
        """One shard: the thumbnails first, then the shard file, so a shard never names a missing thumbnail. Each
        thumbnail is renamed into place whole but not synced on its own (a sync a file cost minutes at 100,000
        images); the shard file is synced, and a later run embeds again any image whose thumbnail is missing."""
        for row, thumb in zip(rows, thumbnails, strict=True):
            if thumb is not None and row.vector is not None:
                path = self.thumbnail(row.sha)
                tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
                tmp.write_bytes(thumb)
                os.replace(tmp, path)
        vectors = np.stack([r.vector if r.vector is not None else np.zeros(self.dim, np.float32) for r in rows])
        arrays = {
            "sha": np.array([r.sha for r in rows], dtype=str),
            "source": np.array([s.path for s in sources], dtype=str),
            "size": np.array([s.size for s in sources], dtype=np.int64),
            "mtime_ns": np.array([s.mtime_ns for s in sources], dtype=np.int64),
            "vector": vectors.astype(np.float32),
            "error": np.array([r.error for r in rows], dtype=str),
        }
        name = self.folder / f"shard-{uuid.uuid4().hex}.npz"
        tmp = name.with_name(f".{name.name}.tmp")
        with tmp.open("wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, name)
        for s, r in zip(sources, rows, strict=True):
            self._rows[s] = r
