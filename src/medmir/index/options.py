"""What `medmir index` is asked to do, as one typed value: the command line fills it in one place
(medmir.cli.index), tests and benchmarks build it directly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medmir.bundle.format import DEFAULT_BUNDLE_FORMAT, SHARD_ROWS, THUMBS_PER_PACK
from medmir.model.pack import Precision

Backend = Literal["auto", "onnxruntime", "torch"]
Engine = Literal["local", "ray"]


@dataclass(frozen=True)
class IndexOptions:
    """`device="cpu"` (default): the pack's ONNX vision model with onnxruntime. `device="cuda[:N]"`: the checkpoint
    the pack was exported from, in PyTorch (`medmir.index.embed.torch`); `backend="torch"` runs that on the CPU too.
    `batch_size=None`: 16 for onnxruntime, 256 for torch. `bundle_format=2` (the default): compact int8 rows in
    shards and thumbnail packs (docs/FORMAT.md), what a collection of 100,000 images and more needs; `shard_rows`
    and `thumbs_per_pack` set their sizes (the defaults keep every file under 25 MB at 500,000 images).
    `bundle_format=1`: float32 embeddings.bin, nearest_neighbors.json and images/ (e.g. for comparison).
    `engine="ray"`: the images are embedded by a Ray Data pipeline (medmir.index.ray) on the cluster at
    `ray_address` (default: a local one), into embedding shards in `shards` (default: beside the embedding cache,
    else beside `out`), from which a stopped run resumes; the bundle is the local engine's, byte for byte.
    `thumbnails`: a `medmir process` folder to take the thumbnails from (None: made while decoding)."""

    images: Path
    labels: Path
    pack_dir: Path
    out: Path
    neighbors: int = 10
    precision: Precision = "fp32"
    thumbnails: Path | None = None
    cache_dir: Path | None = None
    batch_size: int | None = None
    workers: int | None = None
    strict: bool = False
    device: str = "cpu"
    torch_dtype: str = "bf16"
    preprocess_mode: str = "exact"
    checkpoint: Path | None = None
    backend: Backend = "auto"
    force: bool = False
    bundle_format: int = DEFAULT_BUNDLE_FORMAT
    shard_rows: int = SHARD_ROWS
    thumbs_per_pack: int = THUMBS_PER_PACK
    engine: Engine = "local"
    ray_address: str | None = None
    shards: Path | None = None
