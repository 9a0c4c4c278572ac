"""The index stage: images + labels + model pack -> a bundle (contract: docs/FORMAT.md).

Embeddings come from the original images given by `--images` (full resolution, the manifest's preprocessing),
never from the 256 px WebP thumbnails, which are lossy and only for display.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from medmir.bundle.format import DEFAULT_BUNDLE_FORMAT, SHARD_ROWS, THUMBS_PER_PACK, thumbnail_name
from medmir.bundle.write import BundleWriter
from medmir.data.generic import read_labels
from medmir.data.nih import index_images
from medmir.data.records import IMAGE_SUFFIXES, Record, Skipped
from medmir.embed import Embedded, embed_images
from medmir.embedcache import EmbeddingCache
from medmir.errors import MedmirError
from medmir.fsutil import staging_dir
from medmir.model.pack import ModelPack, Precision

if TYPE_CHECKING:
    from medmir.index_ray import TorchModel

Backend = Literal["auto", "onnxruntime", "torch"]
Engine = Literal["local", "ray"]
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


def progress_bar(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


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
    bundle_format: int = DEFAULT_BUNDLE_FORMAT,
    shard_rows: int = SHARD_ROWS,
    thumbs_per_pack: int = THUMBS_PER_PACK,
    engine: Engine = "local",
    ray_address: str | None = None,
    shards: Path | None = None,
) -> IndexReport:
    """`device="cpu"` (default): the pack's ONNX vision model with onnxruntime. `device="cuda[:N]"`: the checkpoint
    the pack was exported from, in PyTorch (`medmir.embed_torch`); `backend="torch"` runs that on the CPU too.
    `batch_size=None`: 16 for onnxruntime, 256 for torch. `bundle_format=2` (the default): compact int8 rows in
    shards and thumbnail packs (docs/FORMAT.md), what a collection of 100,000 images and more needs; `shard_rows`
    and `thumbs_per_pack` set their sizes (the defaults keep every file under 25 MB at 500,000 images).
    `bundle_format=1`: float32 embeddings.bin, nearest_neighbors.json and images/ (e.g. for comparison).
    `engine="ray"`: the images are embedded by a Ray Data pipeline (medmir.index_ray) on the cluster at
    `ray_address` (default: a local one), into embedding shards in `shards` (default: beside the embedding cache,
    else beside `out`), from which a stopped run resumes; the bundle is the local engine's, byte for byte.
    """
    t0 = time.perf_counter()
    report = IndexReport()
    use_torch = _use_torch(backend, device, precision, torch_dtype, preprocess_mode, checkpoint)
    pack = ModelPack.open(pack_dir)
    present, on_disk = match_records(images, labels, report.skipped, strict=strict)
    paths = [on_disk[r.filename] for r in present]
    opts = EmbedOptions(cache_dir, thumbnails is None, batch_size, workers, precision)
    if engine not in ("local", "ray"):
        raise MedmirError(f"engine {engine!r}: use local or ray")
    if engine == "ray":
        torch_model = None
        if use_torch:
            from medmir.index_ray import TorchModel

            if preprocess_mode != "exact":
                raise MedmirError("--engine ray decodes on CPUs: --preprocess fast (decoding on the GPU) is local only")
            torch_model = TorchModel(device, torch_dtype, checkpoint)
        folder = shards or default_shards(cache_dir, out, pack)
        embedder = ray_embedder(pack, paths, opts, ray_address, folder, torch_model)
    elif use_torch:
        embedder = _torch_embedder(pack, paths, opts, device, torch_dtype, preprocess_mode, checkpoint)
    else:
        embedder = onnx_embedder(pack, paths, opts)

    inputs = [images, labels, pack_dir, *([thumbnails] if thumbnails else [])]
    with staging_dir(out, "index", inputs=inputs, force=force) as tmp, progress_bar(progress) as bar:
        writer = BundleWriter(tmp, pack, version=bundle_format, shard_rows=shard_rows, thumbs_per_pack=thumbs_per_pack)
        source = ImageSet(images, present, on_disk, thumbnails)
        add_embedded(writer, embedder, source, report, strict=strict, bar=bar)
        if writer.count == 0:
            raise MedmirError(f"{images}: no image could be embedded ({len(report.skipped)} skipped)")
        nn_task = bar.add_task("nearest neighbours", total=writer.count)
        writer.finish(neighbors=neighbors, image_embeddings=embedder.info, progress=lambda k: bar.advance(nn_task, k))
    report.count = writer.count
    report.seconds = time.perf_counter() - t0
    return report


@dataclass(frozen=True)
class ImageSet:
    """Images to embed: their label rows (`present`, in bundle order), where each is, and a `medmir process` folder
    of thumbnails to reuse (None: thumbnails are made while decoding)."""

    images: Path
    present: list[Record]
    on_disk: dict[str, Path]
    thumbnails: Path | None = None


def add_embedded(writer: BundleWriter, embedder: Embedder, src: ImageSet, report: IndexReport, *, strict: bool,
                 bar: Progress) -> None:  # fmt: skip
    """Runs `embedder` over `src` and adds each embedded image to `writer`, in order; a bad image is reported in
    `report.skipped` (or, `strict`, an error); counts and times go to `report`."""
    task = bar.add_task("embedding images", total=len(src.present))
    t_embed = time.perf_counter()
    for item in embedder.run(lambda n: bar.advance(task, n)):
        r = src.present[item.index]
        path = src.on_disk[r.filename]
        if item.error is not None or item.vector is None:
            if strict:
                raise MedmirError(f"{path}: {item.error}")
            report.skipped.add(str(path), item.error or "no embedding")
            continue
        thumb = _thumbnail(src.thumbnails, r, src.images) if src.thumbnails else item.thumbnail
        if thumb is None:
            raise MedmirError(f"{path}: no thumbnail was made")  # the embedders make one when asked
        writer.add(r, item.vector, thumb)
        report.cached += item.cached
        report.embedded += not item.cached
    report.embed_seconds = time.perf_counter() - t_embed
    embedder.close()


def match_records(
    images: Path, labels: Path, skipped: Skipped, *, strict: bool
) -> tuple[list[Record], dict[str, Path]]:
    """The label rows whose image is under `images` (others are skipped and reported), and where each image is."""
    records = read_labels(labels, skipped)
    on_disk = index_images(images, IMAGE_SUFFIXES)
    present: list[Record] = []
    for r in records:
        if r.filename in on_disk:
            present.append(r)
        else:
            skipped.add(r.filename, f"not found under {images}")
    if not present:
        raise MedmirError(f"{images}: none of the images listed in {labels} is there")
    stems: dict[str, str] = {}
    for r in present:
        clash = stems.setdefault(thumbnail_name(r.filename), r.filename)
        if clash != r.filename:
            raise MedmirError(f"{labels}: {clash} and {r.filename} would share the thumbnail {thumbnail_name(clash)}")
    if strict and len(skipped):
        what, why = skipped.items[0]
        raise MedmirError(f"{what}: {why}")
    return present, on_disk


def _thumbnail(folder: Path, r: Record, images: Path) -> Path:
    src = folder / thumbnail_name(r.filename)
    if not src.is_file():
        raise MedmirError(f"{src}: thumbnail missing (run `medmir process` on {images})")
    return src


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
    """The local engine with the pack's ONNX model (medmir.embed), the embedding cache in `o.cache_dir`."""
    cache = EmbeddingCache(o.cache_dir, pack, o.precision) if o.cache_dir else None
    info = _onnx_info(o.precision)

    def run(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
        return embed_images(paths, pack, precision=o.precision, cache=cache, thumbnails=o.thumbnails,
                            batch_size=o.batch_size or 16, workers=o.workers, on_progress=on_progress)  # fmt: skip

    return Embedder(run, info, cache)


def default_shards(cache_dir: Path | None, out: Path, pack: ModelPack) -> Path:
    if cache_dir is not None:
        return cache_dir / "ray-shards" / pack.manifest_sha256[:16]
    return out.parent / f".{out.name}.shards"


def ray_embedder(pack: ModelPack, paths: list[Path], o: EmbedOptions, address: str | None, folder: Path,
                 torch_model: TorchModel | None = None) -> Embedder:  # fmt: skip
    """The Ray engine (medmir.index_ray) over `paths`, its shards in `folder` (a folder a model under it): the
    pack's ONNX model, or with `torch_model` its checkpoint in PyTorch."""
    from medmir.index_ray import embed_with_ray, pack_model
    from medmir.shards import ShardStore

    if torch_model is None:
        key, info = o.precision, _onnx_info(o.precision)
    else:
        key = f"torch-{torch_model.dtype}-exact"
        info = {"precision": torch_model.dtype, "backend": "torch", "device": torch_model.device,
                "dtype": _TORCH_DTYPES[torch_model.dtype], "preprocess": "exact"}  # fmt: skip
    store = ShardStore(folder / key, pack.manifest_sha256, key, pack.embed_dim)

    def run(on_progress: Callable[[int], None]) -> Iterator[Embedded]:
        return embed_with_ray(paths, pack_model(pack, o.precision, torch_model), store, thumbnails=o.thumbnails,
                              batch_size=o.batch_size or (256 if torch_model else 16), workers=o.workers,
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
    from medmir.embed_torch import DEFAULT_BATCH, TorchEncoder, check_dtype, check_preprocess, embed_images_torch

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
