"""The index stage: images + labels + model pack -> a bundle (contract: docs/FORMAT.md).

Embeddings come from the original images given by `--images` (full resolution, the manifest's preprocessing),
never from the 256 px WebP thumbnails, which are lossy and only for display.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from medmir import __version__
from medmir.bundle.format import (
    EMBEDDINGS,
    FALLBACK,
    FORMAT_NAME,
    FORMAT_VERSION,
    IMAGES,
    INFO,
    METADATA,
    NEIGHBORS,
    images_digest,
    normalize_query,
    thumbnail_name,
)
from medmir.bundle.neighbors import nearest_neighbors, top_k
from medmir.data.generic import read_labels
from medmir.data.nih import index_images
from medmir.data.records import IMAGE_SUFFIXES, Record, Skipped
from medmir.embed import Embedded, embed_images
from medmir.embedcache import EmbeddingCache
from medmir.errors import MedmirError
from medmir.fsutil import atomic_write_bytes, atomic_write_json, sha256_file, staging_dir
from medmir.model.manifest import MANIFEST_FILE
from medmir.model.pack import ModelPack, Precision

RANDOM_WARNING = "random weights: results are meaningless"
Backend = Literal["auto", "onnxruntime", "torch"]
_ONNX_DTYPES = {"fp32": "float32", "int8": "int8 (dynamic quantization)"}
_TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass
class IndexReport:
    count: int = 0
    embedded: int = 0
    cached: int = 0
    skipped: Skipped = field(default_factory=Skipped)
    seconds: float = 0.0
    embed_seconds: float = 0.0

    def summary(self) -> str:
        rate = self.embedded / self.embed_seconds if self.embed_seconds and self.embedded else 0.0
        return (
            f"{self.count} images indexed ({self.embedded} embedded at {rate:.1f} images/s, {self.cached} from cache), "
            f"{len(self.skipped)} skipped, {self.seconds:.1f} s"
        )


def fallback_queries() -> list[str]:
    text = resources.files("medmir.resources.queries").joinpath("fallback.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def _metadata_entry(i: int, r: Record) -> dict[str, Any]:
    return {
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


def fallback_results(pack: ModelPack, emb: np.ndarray, k: int = 10, precision: Precision = "int8") -> dict[str, Any]:
    queries = fallback_queries()
    qv = pack.encode_text(queries, precision)
    rows = []
    for q, v in zip(queries, qv, strict=True):
        scores = np.asarray(emb @ v, dtype=np.float32) if len(emb) else np.zeros(0, np.float32)
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


def build_index(
    images: Path,
    labels: Path,
    pack_dir: Path,
    out: Path,
    *,
    neighbors: int = 10,
    precision: Precision = "fp32",
    thumbnails: Path | None = None,
    cache_dir: Path | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    strict: bool = False,
    progress: bool = True,
    device: str = "cpu",
    torch_dtype: str = "bf16",
    preprocess_mode: str = "exact",
    checkpoint: Path | None = None,
    backend: Backend = "auto",
    force: bool = False,
) -> IndexReport:
    """`device="cpu"` (default): the pack's ONNX vision model with onnxruntime. `device="cuda[:N]"`: the checkpoint
    the pack was exported from, in PyTorch (`medmir.embed_torch`); `backend="torch"` runs that on the CPU too.
    `batch_size=None`: 16 for onnxruntime, 256 for torch.
    """
    t0 = time.perf_counter()
    report = IndexReport()
    use_torch = _use_torch(backend, device, precision, torch_dtype, preprocess_mode, checkpoint)
    pack = ModelPack.open(pack_dir)
    records = read_labels(labels, report.skipped)
    on_disk = index_images(images, IMAGE_SUFFIXES)
    present: list[Record] = []
    for r in records:
        if r.filename in on_disk:
            present.append(r)
        else:
            report.skipped.add(r.filename, f"not found under {images}")
    if not present:
        raise MedmirError(f"{images}: none of the images listed in {labels} is there")
    stems: dict[str, str] = {}
    for r in present:
        clash = stems.setdefault(thumbnail_name(r.filename), r.filename)
        if clash != r.filename:
            raise MedmirError(f"{labels}: {clash} and {r.filename} would share the thumbnail {thumbnail_name(clash)}")
    if strict and len(report.skipped):
        what, why = report.skipped.items[0]
        raise MedmirError(f"{what}: {why}")

    paths = [on_disk[r.filename] for r in present]
    if use_torch:
        from medmir.embed_torch import DEFAULT_BATCH, TorchEncoder, check_dtype, check_preprocess, embed_images_torch

        mode = check_preprocess(preprocess_mode)
        encoder = TorchEncoder.from_pack(pack, checkpoint=checkpoint, device=device, dtype=check_dtype(torch_dtype))
        cache = EmbeddingCache(cache_dir, pack, precision, key_suffix=f"{encoder.label}-{mode}") if cache_dir else None
        embeddings_info = {
            "precision": encoder.dtype,
            "backend": "torch",
            "device": str(encoder.device),
            "dtype": _TORCH_DTYPES[encoder.dtype],
            "preprocess": mode,
        }

        def embed(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
            return embed_images_torch(
                paths,
                encoder,
                cache=cache,
                thumbnails=thumbnails is None,
                batch_size=batch_size or DEFAULT_BATCH,
                workers=workers,
                preprocess=mode,
                on_progress=on_progress,
            )
    else:
        cache = EmbeddingCache(cache_dir, pack, precision) if cache_dir else None
        embeddings_info = {
            "precision": precision,
            "backend": "onnxruntime",
            "device": "cpu",
            "dtype": _ONNX_DTYPES.get(precision, precision),
            "preprocess": "exact",
        }

        def embed(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
            return embed_images(
                paths,
                pack,
                precision=precision,
                cache=cache,
                thumbnails=thumbnails is None,
                batch_size=batch_size or 16,
                workers=workers,
                on_progress=on_progress,
            )

    dim = pack.embed_dim
    kept: list[Record] = []
    inputs = [images, labels, pack_dir, *([thumbnails] if thumbnails else [])]
    with staging_dir(out, "index", inputs=inputs, force=force) as tmp, _progress(progress) as bar:
        (tmp / IMAGES).mkdir()
        task = bar.add_task("embedding images", total=len(present))
        t_embed = time.perf_counter()
        with (tmp / EMBEDDINGS).open("wb") as emb_file:
            for item in embed(lambda n: bar.advance(task, n)):
                r = present[item.index]
                if item.error is not None or item.vector is None:
                    if strict:
                        raise MedmirError(f"{on_disk[r.filename]}: {item.error}")
                    report.skipped.add(str(on_disk[r.filename]), item.error or "no embedding")
                    continue
                thumb_dst = tmp / IMAGES / thumbnail_name(r.filename)
                if thumbnails is None:
                    assert item.thumbnail is not None
                    atomic_write_bytes(thumb_dst, item.thumbnail)
                else:
                    src = thumbnails / thumbnail_name(r.filename)
                    if not src.is_file():
                        raise MedmirError(f"{src}: thumbnail missing (run `medmir process` on {images})")
                    shutil.copyfile(src, thumb_dst)
                emb_file.write(np.asarray(item.vector, dtype="<f4").tobytes())
                kept.append(r)
                report.cached += item.cached
                report.embedded += not item.cached
        report.embed_seconds = time.perf_counter() - t_embed
        if cache:
            cache.close()
        n = len(kept)
        if n == 0:
            raise MedmirError(f"{images}: no image could be embedded ({len(report.skipped)} skipped)")
        emb = np.memmap(tmp / EMBEDDINGS, dtype="<f4", mode="r", shape=(n, dim))

        nn_task = bar.add_task("nearest neighbours", total=n)
        ids, scores = nearest_neighbors(emb, neighbors, progress=lambda k: bar.advance(nn_task, k))
        atomic_write_json(
            tmp / NEIGHBORS,
            {
                "k": int(ids.shape[1]),
                "metric": "cosine (dot product of unit vectors)",
                "ids": ids.tolist(),
                "scores": np.round(scores.astype(np.float64), 6).tolist(),
            },
        )
        atomic_write_json(tmp / FALLBACK, fallback_results(pack, emb))
        atomic_write_json(
            tmp / METADATA,
            {"format": FORMAT_NAME, "count": n, "images": [_metadata_entry(i, r) for i, r in enumerate(kept)]},
        )
        del emb
        thumbs = sorted((p.name, sha256_file(p)) for p in (tmp / IMAGES).iterdir())
        model = pack.manifest["model"]
        info = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "count": n,
            "dim": dim,
            "dtype": "float32",
            "byte_order": "little",
            "layout": "row-major [count, dim]; row i is metadata.json images[i]",
            "model": {
                "name": model["name"],
                "title": model["title"],
                "source": model["source"],
                "revision": model["revision"],
                "manifest_sha256": sha256_file(pack.dir / MANIFEST_FILE),
                "random_weights": pack.random_weights,
            },
            "random_weights": pack.random_weights,
            "warning": RANDOM_WARNING if pack.random_weights else None,
            "image_embeddings": {
                **embeddings_info,
                "source": "original images (the --images folder), not the thumbnails",
            },
            "preprocess": pack.manifest["preprocess"],
            "neighbors": {"k": int(ids.shape[1])},
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "medmir": __version__,
            "files": {
                name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256_file(tmp / name)}
                for name in (EMBEDDINGS, METADATA, NEIGHBORS, FALLBACK)
            },
            "images": {
                "count": len(thumbs),
                "bytes": sum((tmp / IMAGES / name).stat().st_size for name, _ in thumbs),
                "sha256": images_digest(thumbs),
            },
        }
        atomic_write_json(tmp / INFO, info)
    report.count = n
    report.seconds = time.perf_counter() - t0
    return report


def _use_torch(
    backend: str, device: str, precision: str, torch_dtype: str, preprocess_mode: str, checkpoint: Path | None
) -> bool:
    """Which backend embeds the images; options that only one backend honours are refused for the other."""
    if backend not in ("auto", "onnxruntime", "torch"):
        raise MedmirError(f"backend {backend!r}: use auto, onnxruntime or torch")
    on_cpu = device.partition(":")[0] == "cpu"
    if backend == "onnxruntime" and not on_cpu:
        raise MedmirError(f"--device {device}: the onnxruntime backend runs on the CPU only")
    use_torch = backend == "torch" or (backend == "auto" and not on_cpu)
    if use_torch:
        if precision != "fp32":
            raise MedmirError(f"--precision {precision} selects an ONNX model; with --device {device} use --dtype")
        from medmir.embed_torch import check_dtype, check_preprocess, resolve_device

        resolve_device(device)  # before any work: a missing GPU is reported at once
        check_dtype(torch_dtype)
        check_preprocess(preprocess_mode)
        return True
    if preprocess_mode != "exact":
        raise MedmirError(f"--preprocess {preprocess_mode} needs --device cuda (the torch backend)")
    if checkpoint is not None:
        raise MedmirError("--checkpoint is only used with --device cuda (the torch backend)")
    return False
