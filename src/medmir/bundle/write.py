"""The one bundle writer (contract: docs/FORMAT.md). Every engine that makes a bundle streams rows into it.

Rows arrive one by one (record, unit vector, thumbnail); `finish` derives what needs all rows (neighbours, the
fallback results, metadata, the score bands) and writes index_info.json last, vouching for every file. The writer
works in a folder the caller owns (a staging folder that is renamed into place, see `medmir.core.fsutil.staging_dir`).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from medmir.bundle import columns
from medmir.bundle.bands import score_bands
from medmir.bundle.compact import Int8Rows
from medmir.bundle.files import read_json_file
from medmir.bundle.format import (
    DEFAULT_BUNDLE_FORMAT,
    EMBEDDINGS,
    FALLBACK,
    FORMAT_NAME,
    IMAGES,
    INFO,
    METADATA,
    NEIGHBORS,
    RANDOM_WARNING,
    READABLE_VERSIONS,
    SCALES,
    SHARD_ROWS,
    THUMB_INDEX,
    THUMBS_PER_PACK,
    embedding_shard,
    images_digest,
    neighbor_ids_shard,
    neighbor_scores_shard,
    normalize_query,
    shard_count,
    thumb_pack,
    thumbnail_name,
)
from medmir.bundle.neighbors import neighbor_graph, top_k
from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from medmir.data.records import Record
from medmir.model.pack import ModelPack, Precision

Progress = Callable[[int], None]
Scorer = Callable[[np.ndarray], np.ndarray]


def fallback_queries() -> list[str]:
    text = resources.files("medmir.resources.queries").joinpath("fallback.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def fallback_results(
    pack: ModelPack, emb: np.ndarray | Scorer, k: int = 10, precision: Precision = "int8"
) -> dict[str, Any]:
    """The top-k of every fallback query, computed with the browser's text model and the bundle's own scoring
    (float32 rows, or a version 2 bundle's int8 rows), for the site to show at once."""
    score: Scorer = emb if callable(emb) else (lambda v: np.asarray(emb @ v, dtype=np.float32))
    queries = fallback_queries()
    qv = pack.encode_text(queries, precision)
    rows = []
    for q, v in zip(queries, qv, strict=True):
        scores = score(v)
        best = top_k(scores, k)
        rows.append(
            {
                "query": q,
                "normalized": normalize_query(q),
                "ids": best.tolist(),
                "scores": [round(float(scores[i]), 6) for i in best],
            }
        )
    return {
        "text_model": precision,
        "text_runtime": pack.text_runtime_label(precision),
        "padding": "none (real token count), as the browser",
        "k": k,
        "queries": rows,
    }


def metadata_entry(i: int, r: Record) -> dict[str, Any]:
    entry = {
        "id": i,
        "filename": r.filename,
        "thumbnail": f"{IMAGES}/{thumbnail_name(r.filename)}",
        "labels": list(r.labels),
        "primary_label": r.primary_label or (r.labels[0] if r.labels else ""),
        "report": r.report,
        "patient_id": r.patient_id,
        "age": r.age,
        "sex": r.sex,
        "view": r.view,
    }
    if r.facets:
        entry["facets"] = dict(r.facets)
    return entry


class BundleWriter:
    """Streams rows into `folder` (empty, owned by the caller); `finish` completes the bundle."""

    def __init__(
        self,
        folder: Path,
        pack: ModelPack,
        *,
        version: int = DEFAULT_BUNDLE_FORMAT,
        shard_rows: int = SHARD_ROWS,
        thumbs_per_pack: int = THUMBS_PER_PACK,
    ):
        """`version`: the bundle format (docs/FORMAT.md), 2 unless told (DEFAULT_BUNDLE_FORMAT). `shard_rows` and
        `thumbs_per_pack` (version 2) are recorded in index_info.json; smaller values let tests exercise several
        shards and packs with a few images."""
        if version not in READABLE_VERSIONS:
            raise MedmirError(f"bundle format version {version}: this medmir writes {READABLE_VERSIONS}")
        if shard_rows < 1 or thumbs_per_pack < 1:
            raise MedmirError("bundle writer: shard_rows and thumbs_per_pack must be at least 1")
        self.folder, self.pack, self.version = folder, pack, version
        self.shard_rows, self.thumbs_per_pack = shard_rows, thumbs_per_pack
        self.records: list[Record] = []
        self._neighbors: dict[str, Any] = {}  # how finish() computed the neighbours, for index_info.json
        (folder / IMAGES).mkdir()
        self._emb: BinaryIO | None = (folder / EMBEDDINGS).open("wb")

    @property
    def count(self) -> int:
        return len(self.records)

    def add(self, record: Record, vector: np.ndarray, thumbnail: bytes | Path) -> None:
        """One row: its unit vector, and its WebP thumbnail as bytes or as a file to copy."""
        if self._emb is None:
            raise MedmirError("bundle writer: add() after finish()")
        vec = np.asarray(vector, dtype="<f4")
        if vec.shape != (self.pack.embed_dim,):
            raise MedmirError(f"{record.filename}: embedding of shape {vec.shape}, expected ({self.pack.embed_dim},)")
        dst = self.folder / IMAGES / thumbnail_name(record.filename)
        if isinstance(thumbnail, Path):
            shutil.copyfile(thumbnail, dst)
        else:
            atomic_write_bytes(dst, thumbnail)
        self._emb.write(vec.tobytes())
        self.records.append(record)

    def finish(self, *, neighbors: int, image_embeddings: dict[str, Any], progress: Progress | None = None) -> None:
        """Neighbours, fallback results and metadata from the rows, then index_info.json over every file."""
        if self._emb is None:
            raise MedmirError("bundle writer: finish() called twice")
        self._emb.close()
        self._emb = None
        n, dim = self.count, self.pack.embed_dim
        if n == 0:
            raise MedmirError("no image could be embedded: the bundle would be empty")
        emb = np.memmap(self.folder / EMBEDDINGS, dtype="<f4", mode="r", shape=(n, dim))
        graph = neighbor_graph(emb, neighbors, progress=progress)
        ids, scores, self._neighbors = graph.ids, graph.scores, graph.report
        if self.version == 2:
            self._finish_v2(emb, ids, scores, image_embeddings)
            return
        atomic_write_json(
            self.folder / NEIGHBORS,
            {
                "k": int(ids.shape[1]),
                "metric": "cosine (dot product of unit vectors)",
                "ids": ids.tolist(),
                "scores": np.round(scores.astype(np.float64), 6).tolist(),
            },
        )
        fallback = fallback_results(self.pack, emb)
        atomic_write_json(self.folder / FALLBACK, fallback)
        del emb
        entries = [metadata_entry(i, r) for i, r in enumerate(self.records)]
        atomic_write_json(self.folder / METADATA, {"format": FORMAT_NAME, "count": n, "images": entries})
        bands = score_bands(scores, fallback)
        atomic_write_json(self.folder / INFO, self._info(int(ids.shape[1]), image_embeddings, bands))

    def _finish_v2(
        self, emb: np.ndarray, ids: np.ndarray, scores: np.ndarray, image_embeddings: dict[str, Any]
    ) -> None:
        """Version 2: int8 rows (centred, per-row scale) and neighbours in shards, thumbnails in packs, columnar
        metadata; fallback results ranked with the int8 rows, as the browser ranks them."""
        folder, n = self.folder, self.count
        rows = Int8Rows.quantize(emb)
        del emb
        (folder / EMBEDDINGS).unlink()  # the float32 rows were only the writer's scratch
        written = [SCALES]
        atomic_write_bytes(folder / SCALES, rows.scales.astype("<f4").tobytes())
        per = self.shard_rows
        for s in range(shard_count(n, per)):
            part = slice(s * per, (s + 1) * per)
            for name, data in (
                (embedding_shard(s), rows.codes[part].tobytes()),
                (neighbor_ids_shard(s), ids[part].astype("<i4").tobytes()),
                (neighbor_scores_shard(s), scores[part].astype("<f4").tobytes()),
            ):
                atomic_write_bytes(folder / name, data)
                written.append(name)
        written += self._pack_thumbnails()
        fallback = fallback_results(self.pack, rows.scores)
        atomic_write_json(folder / FALLBACK, fallback)
        atomic_write_json(folder / METADATA, columns.encode(self.records))
        written += [FALLBACK, METADATA]
        info = self._info(int(ids.shape[1]), image_embeddings, score_bands(scores, fallback), files=written)
        info.update(
            {
                "dtype": "int8",
                "layout": f"row-major int8 [count, dim] in shards of {per} rows; row i is "
                f"metadata.json row i; score = scales[i] * (row . q) + center . q",
                "center": [float(v) for v in rows.center],
                "shard_rows": per,
                "thumbs_per_pack": self.thumbs_per_pack,
            }
        )
        del info["images"]
        atomic_write_json(folder / INFO, info)

    def _pack_thumbnails(self) -> list[str]:
        """images/*.webp -> thumbs-NNN.pack (concatenated, row order) + thumbs.idx (uint32 offset, length per row)."""
        folder, index = self.folder, np.zeros((self.count, 2), dtype="<u4")
        names = []
        per = self.thumbs_per_pack
        for p in range(shard_count(self.count, per)):
            chunks, offset = [], 0
            for row in range(p * per, min(self.count, (p + 1) * per)):
                data = (folder / IMAGES / thumbnail_name(self.records[row].filename)).read_bytes()
                index[row] = (offset, len(data))
                chunks.append(data)
                offset += len(data)
            atomic_write_bytes(folder / thumb_pack(p), b"".join(chunks))
            names.append(thumb_pack(p))
        atomic_write_bytes(folder / THUMB_INDEX, index.tobytes())
        shutil.rmtree(folder / IMAGES)
        return [*names, THUMB_INDEX]

    def _info(
        self, k: int, image_embeddings: dict[str, Any], bands: dict[str, Any], files: list[str] | None = None
    ) -> dict[str, Any]:
        pack, folder = self.pack, self.folder
        images = folder / IMAGES
        thumbs = sorted((p.name, sha256_file(p)) for p in images.iterdir()) if images.is_dir() else []
        model = pack.manifest["model"]
        return {
            "format": FORMAT_NAME,
            "format_version": self.version,
            "count": self.count,
            "dim": pack.embed_dim,
            "dtype": "float32",
            "byte_order": "little",
            "layout": "row-major [count, dim]; row i is metadata.json images[i]",
            "model": {
                "name": model["name"],
                "title": model["title"],
                "source": model["source"],
                "revision": model["revision"],
                "manifest_sha256": pack.manifest_sha256,
                "random_weights": pack.random_weights,
            },
            "random_weights": pack.random_weights,
            "warning": RANDOM_WARNING if pack.random_weights else None,
            "image_embeddings": {
                **image_embeddings,
                "source": "original images (the --images folder), not the thumbnails",
            },
            "preprocess": pack.manifest["preprocess"],
            "neighbors": {"k": k, **self._neighbors},
            # what a score means in this collection, per query kind (medmir.bundle.bands)
            "score_bands": bands,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "medmir": __version__,
            "files": {
                name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
                for name in files or (EMBEDDINGS, METADATA, NEIGHBORS, FALLBACK)
            },
            "images": {
                "count": len(thumbs),
                "bytes": sum((folder / IMAGES / name).stat().st_size for name, _ in thumbs),
                "sha256": images_digest(thumbs),
            },
        }


def register_files(bundle_dir: Path, names: tuple[str, ...]) -> None:
    """Add files written later (evaluate's metrics.json, hard_cases.json) to index_info.json, so `medmir verify`
    catches edits to them too."""
    info = read_json_file(bundle_dir / INFO)
    for name in names:
        info["files"][name] = {"bytes": (bundle_dir / name).stat().st_size, "sha256": sha256_file(bundle_dir / name)}
    atomic_write_json(bundle_dir / INFO, info)
