"""The index stage: images + labels + model pack -> a bundle (contract: docs/FORMAT.md).

Embeddings come from the original images given by `--images` (full resolution, the manifest's preprocessing),
never from the 256 px WebP thumbnails, which are lossy and only for display.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmir.bundle.write import BundleWriter
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.core.progress import OnProgress, task_progress
from medmir.data.records import Skipped
from medmir.index.cache import EmbeddingCache
from medmir.index.embed.core import Embedded
from medmir.index.embed.onnx import DEFAULT_BATCH as ONNX_BATCH
from medmir.index.embed.onnx import embed_images
from medmir.index.options import IndexOptions
from medmir.index.ray import TorchModel, embed_with_ray, pack_model
from medmir.index.records import ImageSet, match_records
from medmir.index.shards import ShardStore
from medmir.model.pack import ModelPack, Precision

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


def build_index(o: IndexOptions, on_progress: OnProgress | None = None) -> IndexReport:
    """Indexes `o.images` as `o` says (medmir.index.options.IndexOptions); progress goes to `on_progress`."""
    t0 = time.perf_counter()
    report = IndexReport()
    use_torch = _use_torch(o.backend, o.device, o.precision, o.torch_dtype, o.preprocess_mode, o.checkpoint)
    pack = ModelPack.open(o.pack_dir)
    present, on_disk = match_records(o.images, o.labels, report.skipped, strict=o.strict)
    source = ImageSet(o.images, present, on_disk, o.thumbnails)
    embedder = _embedder(o, use_torch, pack, source.paths())
    inputs = [o.images, o.labels, o.pack_dir, *([o.thumbnails] if o.thumbnails else [])]
    with staging_dir(o.out, "index", inputs=inputs, force=o.force) as tmp:
        writer = BundleWriter(tmp, pack, version=o.bundle_format, shard_rows=o.shard_rows,
                              thumbs_per_pack=o.thumbs_per_pack)  # fmt: skip
        add_embedded(writer, embedder, source, report, strict=o.strict, on_progress=on_progress)
        if writer.count == 0:
            raise MedmirError(f"{o.images}: no image could be embedded ({len(report.skipped)} skipped)")
        writer.finish(neighbors=o.neighbors, image_embeddings=embedder.info,
                      progress=task_progress(on_progress, "nearest neighbours", writer.count))  # fmt: skip
    report.count = writer.count
    report.seconds = time.perf_counter() - t0
    return report


def _embedder(o: IndexOptions, use_torch: bool, pack: ModelPack, paths: list[Path]) -> Embedder:
    """The backend `o` asks for (`use_torch`: as _use_torch decided before any image was read)."""
    opts = EmbedOptions(o.cache_dir, o.thumbnails is None, o.batch_size, o.workers, o.precision)
    if o.engine not in ("local", "ray"):
        raise MedmirError(f"engine {o.engine!r}: use local or ray")
    if o.engine == "ray":
        torch_model = None
        if use_torch:
            if o.preprocess_mode != "exact":
                raise MedmirError("--engine ray decodes on CPUs: --preprocess fast (decoding on the GPU) is local only")
            torch_model = TorchModel(o.device, o.torch_dtype, o.checkpoint)
        folder = o.shards or default_shards(o.cache_dir, o.out, pack)
        return ray_embedder(pack, paths, opts, o.ray_address, folder, torch_model)
    if use_torch:
        return _torch_embedder(pack, paths, opts, o.device, o.torch_dtype, o.preprocess_mode, o.checkpoint)
    return onnx_embedder(pack, paths, opts)


def add_embedded(writer: BundleWriter, embedder: Embedder, src: ImageSet, report: IndexReport, *, strict: bool,
                 on_progress: OnProgress | None = None) -> None:  # fmt: skip
    """Runs `embedder` over `src` and adds each embedded image to `writer`, in order; a bad image is reported in
    `report.skipped` (or, `strict`, an error); counts and times go to `report`."""
    advance = task_progress(on_progress, "embedding images", len(src.present))
    t_embed = time.perf_counter()
    for item in embedder.run(advance):
        r = src.present[item.index]
        path = src.on_disk[r.filename]
        if item.error is not None or item.vector is None:
            if strict:
                raise MedmirError(f"{path}: {item.error}")
            report.skipped.add(str(path), item.error or "no embedding")
            continue
        thumb = src.thumbnail_file(r) if src.thumbnails else item.thumbnail
        if thumb is None:
            raise MedmirError(f"{path}: no thumbnail was made")  # the embedders make one when asked
        writer.add(r, item.vector, thumb)
        report.cached += item.cached
        report.embedded += not item.cached
    report.embed_seconds = time.perf_counter() - t_embed
    embedder.close()


@dataclass
class EmbedOptions:
    cache_dir: Path | None
    thumbnails: bool  # make WebP thumbnails while decoding (no `medmir process` output to reuse)
    batch_size: int | None
    workers: int | None
    precision: Precision


@dataclass
class Embedder:
    """One backend, ready to run: `run` yields the embedded images, `info` describes them for index_info.json."""

    run: Callable[[Callable[[int], None]], Iterator[Embedded]]
    info: dict[str, Any]
    cache: EmbeddingCache | None

    def close(self) -> None:
        if self.cache:
            self.cache.close()


def _onnx_info(precision: Precision) -> dict[str, Any]:
    """index_info.json `image_embeddings` of the pack's ONNX model (either engine: the same bundle)."""
    return {"precision": precision, "backend": "onnxruntime", "device": "cpu",
            "dtype": _ONNX_DTYPES.get(precision, precision), "preprocess": "exact"}  # fmt: skip


def onnx_embedder(pack: ModelPack, paths: list[Path], o: EmbedOptions) -> Embedder:
    """The local engine with the pack's ONNX model (medmir.index.embed.onnx), the embedding cache in `o.cache_dir`."""
    cache = EmbeddingCache(o.cache_dir, pack, o.precision) if o.cache_dir else None
    info = _onnx_info(o.precision)

    def run(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
        return embed_images(paths, pack, precision=o.precision, cache=cache, thumbnails=o.thumbnails,
                            batch_size=o.batch_size or ONNX_BATCH, workers=o.workers,
                            on_progress=on_progress)  # fmt: skip

    return Embedder(run, info, cache)


def default_shards(cache_dir: Path | None, out: Path, pack: ModelPack) -> Path:
    if cache_dir is not None:
        return cache_dir / "ray-shards" / pack.manifest_sha256[:16]
    return out.parent / f".{out.name}.shards"


def ray_embedder(pack: ModelPack, paths: list[Path], o: EmbedOptions, address: str | None, folder: Path,
                 torch_model: TorchModel | None = None) -> Embedder:  # fmt: skip
    """The Ray engine (medmir.index.ray) over `paths`, its shards in `folder` (a folder a model under it): the
    pack's ONNX model, or with `torch_model` its checkpoint in PyTorch."""
    if torch_model is None:
        key, info = o.precision, _onnx_info(o.precision)
    else:
        key = f"torch-{torch_model.dtype}-exact"
        info = {"precision": torch_model.dtype, "backend": "torch", "device": torch_model.device,
                "dtype": _TORCH_DTYPES[torch_model.dtype], "preprocess": "exact"}  # fmt: skip
    store = ShardStore(folder / key, pack.manifest_sha256, key, pack.embed_dim)

    def run(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
        return embed_with_ray(paths, pack_model(pack, o.precision, torch_model), store, thumbnails=o.thumbnails,
                              batch_size=o.batch_size or (256 if torch_model else ONNX_BATCH), workers=o.workers,
                              address=address, on_progress=on_progress)  # fmt: skip

    return Embedder(run, info, None)


def _torch_embedder(
    pack: ModelPack,
    paths: list[Path],
    o: EmbedOptions,
    device: str,
    torch_dtype: str,
    preprocess_mode: str,
    checkpoint: Path | None,
) -> Embedder:
    # torch (the medmir[export] extra, seconds to import): only for --device cuda or --backend torch
    from medmir.index.embed.torch import DEFAULT_BATCH, TorchEncoder, check_dtype, check_preprocess, embed_images_torch

    mode = check_preprocess(preprocess_mode)
    encoder = TorchEncoder.from_pack(pack, checkpoint=checkpoint, device=device, dtype=check_dtype(torch_dtype))
    key = f"{encoder.label}-{mode}"
    cache = EmbeddingCache(o.cache_dir, pack, o.precision, key_suffix=key) if o.cache_dir else None
    info = {
        "precision": encoder.dtype,
        "backend": "torch",
        "device": str(encoder.device),
        "dtype": _TORCH_DTYPES[encoder.dtype],
        "preprocess": mode,
    }

    def run(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
        return embed_images_torch(paths, encoder, cache=cache, thumbnails=o.thumbnails,
                                  batch_size=o.batch_size or DEFAULT_BATCH, workers=o.workers, preprocess=mode,
                                  on_progress=on_progress)  # fmt: skip

    return Embedder(run, info, cache)


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
        from medmir.index.embed.torch import check_dtype, check_preprocess, resolve_device  # torch, as above

        resolve_device(device)  # before any work: a missing GPU is reported at once
        check_dtype(torch_dtype)
        check_preprocess(preprocess_mode)
        return True
    if preprocess_mode != "exact":
        raise MedmirError(f"--preprocess {preprocess_mode} needs --device cuda (the torch backend)")
    if checkpoint is not None:
        raise MedmirError("--checkpoint is only used with --device cuda (the torch backend)")
    return False
