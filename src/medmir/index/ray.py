"""The Ray engine of the index stage (`medmir index --engine ray`): a Ray Data pipeline, on a local Ray or a cluster.

    image paths -> decode + preprocess (+ thumbnail): medmir.index.embed.onnx.prepare_image, as the local engine
                -> embed: a pool of actors, each holding the pack's ONNX vision model (onnxruntime, one thread;
                   on CPUs Ray fuses the two steps into the actors, so pixels never cross the object store)
                -> shards on the driver (medmir.index.shards, keyed by image sha256, one per finished batch)

then `medmir.index.run` writes the bundle from the shards with the one bundle writer, in the labels' order, exactly as
the local engine does. Ray retries a task or restarts an actor whose worker died; a run stopped whole resumes from
its shards (only images no shard holds are embedded). Workers read the images by path: on a cluster, the images
must be where every node sees them at the same path (a shared file system).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.core.errors import MedmirError
from medmir.index.embed.core import Embedded
from medmir.index.embed.onnx import prepare_image
from medmir.index.shards import Row, ShardStore, Source
from medmir.model.manifest import PreprocessSpec
from medmir.model.pack import ModelPack, Precision

DECODE_BATCH = 8


def _decode(batch: dict[str, np.ndarray], spec: PreprocessSpec, thumbnails: bool) -> dict[str, Any]:
    """A Ray task: decode and preprocess a batch of images; a bad image becomes an error row (zero pixels)."""
    n, size = len(batch["path"]), spec.image_size
    pixels = np.zeros((n, 3, size, size), np.float32)
    sha, error, thumb = [], [], []
    for i, (index, path) in enumerate(zip(batch["index"], batch["path"], strict=True)):
        p = prepare_image(int(index), str(path), spec, False, thumbnails)
        if p.pixels is not None:
            pixels[i] = p.pixels
        sha.append(p.sha)
        error.append(p.error or "")
        thumb.append(p.thumbnail or b"")
    column = {"sha": sha, "error": error, "thumbnail": thumb}
    return {"index": batch["index"], "path": batch["path"], "pixels": pixels,
            **{k: np.array(v, dtype=object) for k, v in column.items()}}  # fmt: skip


class _Actor:
    """A Ray actor's batch: the rows that decoded are embedded (`_embed`), the others get a zero vector and keep
    their error; the pixels are dropped. Subclasses take their settings as class attributes (`pack_model`)."""

    dim = 0

    def _embed(self, pixels: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        ok = np.array([not e for e in batch["error"]], dtype=bool)
        vectors = np.zeros((len(ok), self.dim), np.float32)
        if ok.any():
            vectors[ok] = self._embed(batch["pixels"][ok])
        out = {k: v for k, v in batch.items() if k != "pixels"}
        out["vector"] = vectors
        return out


class _Embed(_Actor):
    """The pack's ONNX vision model, one onnxruntime thread (Ray gives each actor one CPU)."""

    PACK_DIR = ""
    PRECISION: Precision = "fp32"

    def __init__(self) -> None:
        self.pack = ModelPack.open(Path(self.PACK_DIR), verify=False, threads=1)
        self.dim = self.pack.embed_dim

    def _embed(self, pixels: np.ndarray) -> np.ndarray:
        return self.pack.encode_pixels(pixels, self.PRECISION)


class _TorchEmbed(_Actor):
    """The checkpoint the pack was exported from, in PyTorch on `DEVICE` (`num_gpus=1` on CUDA), for
    `medmir index --engine ray --device cuda`; fed by separate CPU decode tasks."""

    PACK_DIR = ""
    CHECKPOINT = ""
    DEVICE = "cuda"
    DTYPE = "bf16"

    def __init__(self) -> None:
        from medmir.index.embed.torch import TorchEncoder  # torch: only in the actors of a --device cuda run

        ckpt = Path(self.CHECKPOINT) if self.CHECKPOINT else None
        if not self.PACK_DIR and ckpt is not None:  # a checkpoint alone (benchmarks/gpu_index.py)
            self.encoder = TorchEncoder.from_checkpoint(ckpt, device=self.DEVICE, dtype=self.DTYPE)
        else:
            pack = ModelPack.open(Path(self.PACK_DIR), verify=False)
            self.encoder = TorchEncoder.from_pack(pack, checkpoint=ckpt, device=self.DEVICE, dtype=self.DTYPE)
        self.dim = self.encoder.embed_dim

    def _embed(self, pixels: np.ndarray) -> np.ndarray:
        import torch  # as in __init__

        return self.encoder.encode(torch.from_numpy(np.ascontiguousarray(pixels)))


@dataclass(frozen=True)
class TorchModel:
    """What `_TorchEmbed` runs: the pack's checkpoint (or `checkpoint`) on `device` in `dtype`."""

    device: str
    dtype: str
    checkpoint: Path | None = None


@dataclass(frozen=True)
class Model:
    """What the pipeline runs: the actor class (its settings as class attributes: constructor arguments would be
    kept in Ray's object store for restarts), the preprocessing spec, and whether an actor takes a GPU."""

    actor: type[Any]
    spec: PreprocessSpec
    gpu: bool = False


def pack_model(pack: ModelPack, precision: Precision, torch_model: TorchModel | None = None) -> Model:
    """The pack's ONNX model, or (`torch_model`) the checkpoint it was exported from, in PyTorch."""
    spec, pack_dir = pack.preprocess, str(pack.dir.absolute())
    if torch_model is None:
        return Model(type("Embed", (_Embed,), {"PACK_DIR": pack_dir, "PRECISION": precision}), spec)
    return torch_checkpoint_model(torch_model, spec, pack_dir)


def torch_checkpoint_model(torch_model: TorchModel, spec: PreprocessSpec, pack_dir: str = "") -> Model:
    """A checkpoint in PyTorch actors (with no `pack_dir`: `torch_model.checkpoint` alone, its own spec)."""
    ckpt = str(torch_model.checkpoint.absolute()) if torch_model.checkpoint else ""
    actor = type("TorchEmbed", (_TorchEmbed,), {"PACK_DIR": pack_dir, "CHECKPOINT": ckpt,
                                               "DEVICE": torch_model.device, "DTYPE": torch_model.dtype})  # fmt: skip
    return Model(actor, spec, gpu=torch_model.device.startswith("cuda"))


def _connect(address: str | None, workers: int | None) -> bool:
    """Joins the cluster at `address`, else one already joined in this process, else starts a local one (stopped
    at the end: returns True)."""
    import ray  # ray (the medmir[ray] extra): only for --engine ray

    # Ray's own progress lines would break medmir's progress bar; its errors still show
    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
        return False
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def embed_with_ray(
    paths: list[Path],
    model: Model,
    store: ShardStore,
    *,
    thumbnails: bool,
    batch_size: int,
    workers: int | None,
    address: str | None,
    on_progress: Callable[[int], None],
) -> Iterator[Embedded]:
    """One Embedded per path, in order: from the store for images it holds, the others embedded by Ray first (each
    finished batch written as a shard at once)."""
    sources = [Source.of(p.absolute()) for p in paths]  # absolute: what every node and a later run see alike
    todo = [i for i, s in enumerate(sources) if store.get(s) is None or (thumbnails and _thumb_missing(store, s))]
    on_progress(len(paths) - len(todo))
    if todo:
        _run(sources, todo, model, store, thumbnails, batch_size, workers, address, on_progress)
    fresh = set(todo)
    for i, s in enumerate(sources):
        row = store.get(s)
        if row is None:
            raise MedmirError(f"{s.path}: no embedding came back from Ray")
        thumb = store.thumbnail(row.sha).read_bytes() if thumbnails and row.vector is not None else None
        yield Embedded(i, row.vector, thumb, row.error or None, cached=i not in fresh)


def _thumb_missing(store: ShardStore, s: Source) -> bool:
    row = store.get(s)
    return row is not None and row.vector is not None and not store.thumbnail(row.sha).is_file()


def _run(sources: list[Source], todo: list[int], model: Model, store: ShardStore, thumbnails: bool, batch_size: int,
         workers: int | None, address: str | None, on_progress: Callable[[int], None]) -> None:  # fmt: skip
    import ray  # as in _connect
    import ray.data

    started = _connect(address, workers)
    try:
        n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))  # default: every CPU of the cluster
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        # an actor a CPU; on CUDA, one a GPU (decoding stays in CPU tasks, which Ray then does not fuse in)
        resources: dict[str, float] = {"num_gpus": 1} if model.gpu else {"num_cpus": 1}
        actors = max(1, int(ray.cluster_resources().get("GPU", 1))) if model.gpu else n_workers
        items = [{"index": i, "path": sources[i].path} for i in todo]
        ds = (
            ray.data.from_items(items, override_num_blocks=max(1, len(items) // DECODE_BATCH))
            .map_batches(_decode, batch_size=DECODE_BATCH, num_cpus=1,
                         fn_kwargs={"spec": model.spec, "thumbnails": thumbnails})
            .map_batches(model.actor, batch_size=batch_size,
                         compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors), **resources)
        )  # fmt: skip
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            idx = [int(i) for i in batch["index"]]
            rows = [Row(str(sha), None if err else vec.astype(np.float32), str(err))
                    for sha, err, vec in zip(batch["sha"], batch["error"], batch["vector"], strict=True)]  # fmt: skip
            thumbs = [bytes(t) or None for t in batch["thumbnail"]]
            store.add([sources[i] for i in idx], rows, thumbs)
            on_progress(len(idx))
    finally:
        if started:
            ray.shutdown()
