"""Batched image encoding in PyTorch (a CUDA GPU, or the CPU for tests): the `medmir index --device cuda` backend.

Same contract as `medmir.index.embed.onnx.embed_images`, by the same loop (medmir.index.embed.core): one `Embedded`
per path, in input order, errors as entries (never a crash), the same SQLite cache (under its own key). The vision
tower is the one of the checkpoint the pack was exported from (its sha256 checked against the manifest), run in bf16
by default.

A GPU embeds ViT-B/16 far faster (~8,000 images/s) than PNG decoding runs (~70 images/s per core), so decoding is
the bound: a DataLoader spreads read + sha256 + decode (+ preprocess) over all cores but one. Two preprocessing
modes:
- `exact`: `load_image` + `preprocess_for_model` in the workers, bit-identical to the onnxruntime path's input.
- `fast`: 8-bit (or 16/32-bit integer) grayscale images are decoded without the RGB conversion and resized on the
  device (antialiased bicubic in two rounded passes, Pillow's to +-1 grey level); anything else takes the exact path.
  About half the CPU work per image; embeddings stay within cosine 0.999 of `exact`.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file
from medmir.imaging.decode import INT_MODES, encode_webp, int_to_uint8, load_image, make_thumbnail, preprocess_for_model
from medmir.imaging.errors import ImageReadError, size_problem
from medmir.index.cache import EmbeddingCache
from medmir.index.embed.core import Decoded, Embedded, Group, embed_in_order
from medmir.model.checkpoint import Source, load_clip, resolve_source
from medmir.model.config import CHECKPOINT_FILE, ClipConfig, load_config
from medmir.model.manifest import HUB_PREFIX, PreprocessSpec, local_checkpoint
from medmir.model.pack import ModelPack

TorchDtype = Literal["bf16", "fp16", "fp32"]
PreprocessMode = Literal["exact", "fast"]
DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
PREPROCESS_MODES = ("exact", "fast")
DEFAULT_BATCH = 256
# Images per DataLoader item: small, so the first batch comes quickly and in-flight shared memory stays bounded
# in /dev/shm (workers x prefetch 2 x chunk images: ~0.5 GB at 15 workers with 1 MB grayscale images).
DECODE_CHUNK = 16


def default_workers() -> int:
    """All cores but one: the main process feeds the device and pins memory."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


def resolve_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise MedmirError(f"--device {device}: not a device (use cpu, cuda or cuda:N)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise MedmirError(f"--device {device}: no CUDA device (torch.cuda.is_available() is False)")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise MedmirError(f"--device {device}: only {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
        return torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
    if dev.type != "cpu":
        raise MedmirError(f"--device {device}: unsupported device type {dev.type!r} (use cpu, cuda or cuda:N)")
    return dev


def check_dtype(dtype: str) -> TorchDtype:
    if dtype not in DTYPES:
        raise MedmirError(f"--dtype {dtype}: use one of {', '.join(DTYPES)}")
    return dtype  # type: ignore[return-value]


def check_preprocess(mode: str) -> PreprocessMode:
    if mode not in PREPROCESS_MODES:
        raise MedmirError(f"--preprocess {mode}: use exact or fast")
    return mode  # type: ignore[return-value]


def pack_checkpoint(pack: ModelPack, checkpoint: Path | None = None) -> Path:
    """The checkpoint folder `pack` was exported from (or `checkpoint`), checked against the manifest's sha256.

    The torch backend must run exactly the weights the pack's ONNX models hold, or its embeddings would not match
    the browser's text model.
    """
    model = pack.manifest["model"]
    want = model.get("checkpoint_sha256")
    if not want:
        raise MedmirError(f"{pack.dir}: the manifest records no model.checkpoint_sha256; re-export the pack")
    if checkpoint is None:
        # the manifest publishes a hub id or only a folder's name; a local folder's path stays in the pack's side file
        spec = str(model.get("source") or "")
        local = None if spec.startswith(HUB_PREFIX) else local_checkpoint(pack.dir)
        if not spec.startswith(HUB_PREFIX) and (local is None or not local.is_dir()):
            raise MedmirError(
                f"{pack.dir} was exported from {local or spec or '(no source recorded)'}, which is not there: pass "
                "--checkpoint FOLDER (the checkpoint folder the pack was exported from) for --device cuda"
            )
        folder = resolve_source(spec).dir if local is None else local
    else:
        folder = Path(checkpoint)
        if not folder.is_dir():
            raise MedmirError(f"--checkpoint {checkpoint}: not a folder")
    file = folder / CHECKPOINT_FILE
    if not file.is_file():
        raise MedmirError(f"{folder}: no {CHECKPOINT_FILE} (not a checkpoint folder)")
    got = sha256_file(file)
    if got != want:
        raise MedmirError(
            f"{file}: sha256 {got[:16]}... differs from the pack's checkpoint_sha256 {want[:16]}...: these are not "
            "the weights the pack was exported from"
        )
    return folder


def spec_from_checkpoint(folder: Path) -> PreprocessSpec:
    """The preprocessing spec a pack exported from `folder` would record (for pack-free use, e.g. benchmarks)."""
    return PreprocessSpec.from_config(load_config(folder))


def _spec_tensors(spec: PreprocessSpec) -> tuple[int, torch.Tensor, torch.Tensor]:
    mean, std = spec.normalization()
    return spec.image_size, torch.from_numpy(mean)[None], torch.from_numpy(std)[None]


def gray_to_pixels(gray: torch.Tensor, spec: PreprocessSpec) -> torch.Tensor:
    """uint8 [k, H, W] grayscale (one size) on any device -> float32 [k, 3, S, S] model input, on that device.

    The geometry of `preprocess_for_model` (shorter side to S with the same truncation, the same crop offsets);
    the resampling is torch's antialiased bicubic (Pillow's kernel, a = -0.5) run as Pillow runs it: horizontal
    pass, round and clamp to 8 bits, vertical pass, round and clamp. What remains is Pillow's fixed-point
    arithmetic: +-1 grey level on ~0.01-0.1% of pixels (measured on NIH images and random noise).
    """
    size, mean, std = _spec_tensors(spec)
    k, h, w = gray.shape
    new_w, new_h = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    x = gray[:, None].float()
    for target in ((h, new_w), (new_h, new_w)):  # a pass is skipped where that side keeps its length
        if target != tuple(x.shape[2:]):
            x = F.interpolate(x, size=target, mode="bicubic", antialias=True, align_corners=False)
            x = x.round_().clamp_(0, 255)
    top, left = round((new_h - size) / 2.0), round((new_w - size) / 2.0)
    x = x[:, :, top : top + size, left : left + size] / 255.0
    x = x.expand(k, 3, size, size)
    return (x - mean.to(x.device)) / std.to(x.device)


@dataclass
class TorchEncoder:
    """The vision tower on a torch device: float32 pixels in, float32 unit vectors out."""

    tower: torch.nn.Module
    spec: PreprocessSpec
    device: torch.device
    dtype: TorchDtype
    embed_dim: int
    checkpoint: Path
    compiled: bool = False
    _forward: Callable[[torch.Tensor], torch.Tensor] | None = field(default=None, repr=False)

    @classmethod
    def from_checkpoint(
        cls,
        folder: Path,
        *,
        spec: PreprocessSpec | None = None,
        device: str = "cuda",
        dtype: str = "bf16",
        compile: bool = False,
    ) -> TorchEncoder:
        # lazy: model.export loads onnx and the quantizer (a second or more), which embedding never runs
        from medmir.model.export import VisionTower

        dev = resolve_device(device)
        dt = check_dtype(dtype)
        clip, cfg = _load_clip_quietly(resolve_source(str(folder)))
        tower = VisionTower(clip).eval().to(dev, DTYPES[dt])
        del clip  # the text tower is not needed: only the vision tower stays referenced
        forward = torch.compile(tower.visual) if compile else tower.visual
        return cls(tower, spec or spec_from_checkpoint(folder), dev, dt, cfg.embed_dim, Path(folder), compile, forward)

    @classmethod
    def from_pack(
        cls,
        pack: ModelPack,
        *,
        checkpoint: Path | None = None,
        device: str = "cuda",
        dtype: str = "bf16",
        compile: bool = False,
    ) -> TorchEncoder:
        resolve_device(device)  # a missing GPU is reported before hashing a checkpoint
        check_dtype(dtype)
        folder = pack_checkpoint(pack, checkpoint)
        enc = cls.from_checkpoint(folder, spec=pack.preprocess, device=device, dtype=dtype, compile=compile)
        if enc.embed_dim != pack.embed_dim:
            raise MedmirError(f"{folder}: embed_dim {enc.embed_dim} != the pack's {pack.embed_dim}")
        return enc

    @property
    def label(self) -> str:
        return f"torch-{self.dtype}"

    def encode(self, pixels: torch.Tensor) -> np.ndarray:
        """float32 [n, 3, S, S] (any device) -> float32 [n, dim] unit rows."""
        forward = self._forward or self.tower.visual
        with torch.inference_mode():
            x = pixels.to(self.device, non_blocking=True).to(DTYPES[self.dtype])
            # Normalised in float32, not in bf16 (VisionTower.forward would), so rows are unit length to ~1e-7.
            out = F.normalize(forward(x).float(), dim=-1)
            return out.cpu().numpy()

    def gray_to_pixels(self, gray: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return gray_to_pixels(gray.to(self.device, non_blocking=True), self.spec)


def _load_clip_quietly(source: Source) -> tuple[torch.nn.Module, ClipConfig]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # timm / transformers deprecation notes at build time
        return load_clip(source)


# ---- decoding (runs in the DataLoader workers) ----


@dataclass
class ImageMeta:
    """One image as the workers saw it; `slot` locates its model input in the chunk (None: cached or error)."""

    index: int
    sha: str = ""
    thumbnail: bytes | None = None
    error: str | None = None
    slot: tuple[int, int] | None = None  # (-1, row) in `exact`, or (group, row) in `gray`


@dataclass
class Chunk:
    """A few consecutive images: metadata in input order, exact inputs stacked, grayscale images stacked by size."""

    items: list[ImageMeta]
    exact: torch.Tensor | None  # float32 [k, 3, S, S]
    gray: list[torch.Tensor]  # uint8 [k, H, W], one tensor per image size

    def pin_memory(self) -> Chunk:  # called by the DataLoader's pinning thread
        return Chunk(
            self.items, None if self.exact is None else self.exact.pin_memory(), [g.pin_memory() for g in self.gray]
        )

    @property
    def inputs(self) -> int:
        return (0 if self.exact is None else len(self.exact)) + sum(len(g) for g in self.gray)


def decode_gray(data: bytes) -> Image.Image | None:
    """8-bit grayscale from integer-grayscale image bytes with `load_image`'s rules, or None (use `load_image`).

    Any doubt (other modes, damage, oversize) returns None: `load_image` then decides, with its error messages.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
        w, h = img.size
        if img.mode not in ("L", *INT_MODES) or size_problem(w, h) is not None:
            return None
        img.load()
        Image.open(io.BytesIO(data)).verify()  # PNG chunk CRCs, as load_image checks them
        img = ImageOps.exif_transpose(img)
    except Exception:
        return None
    if img.mode in INT_MODES:
        img = Image.fromarray(int_to_uint8(np.asarray(img)), mode="L")
    return img if img.mode == "L" else None


class ImageFiles(Dataset[ImageMeta | tuple[ImageMeta, np.ndarray, str]]):
    """Item i: read + sha256 + decode + (preprocess | grayscale array) + thumbnail of paths[i]."""

    def __init__(
        self,
        paths: Sequence[Path | str],
        spec: PreprocessSpec,
        *,
        mode: PreprocessMode = "exact",
        known: frozenset[int] = frozenset(),
        thumbnails: bool = False,
    ):
        self.paths = [str(p) for p in paths]
        self.spec = spec
        self.mode = mode
        self.known = known
        self.thumbnails = thumbnails

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> ImageMeta | tuple[ImageMeta, np.ndarray, str]:
        path = Path(self.paths[i])
        try:
            data = path.read_bytes()
        except OSError as exc:
            return ImageMeta(i, error=f"cannot read ({exc.strerror})")
        meta = ImageMeta(i, sha=hashlib.sha256(data).hexdigest())
        cached = i in self.known
        if cached and not self.thumbnails:
            return meta
        img = decode_gray(data) if self.mode == "fast" else None
        try:
            if img is None:
                img = load_image(path)
        except ImageReadError as exc:
            meta.error = str(exc)
            return meta
        if self.thumbnails:
            meta.thumbnail = encode_webp(make_thumbnail(img))  # same pixels as load_image's RGB for "L" images
        if cached:
            return meta
        if img.mode == "L":
            return meta, np.asarray(img), "gray"
        return meta, preprocess_for_model(img, self.spec), "exact"


def collate(items: list[ImageMeta | tuple[ImageMeta, np.ndarray, str]]) -> Chunk:
    """Runs in the worker: stack model inputs (exact ones together, grayscale ones by size), keep order in `items`."""
    metas: list[ImageMeta] = []
    exact: list[np.ndarray] = []
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    for it in items:
        if isinstance(it, ImageMeta):
            metas.append(it)
            continue
        meta, arr, kind = it
        if kind == "exact":
            meta.slot = (-1, len(exact))
            exact.append(arr)
        else:
            group = groups.setdefault(arr.shape, [])
            meta.slot = (list(groups).index(arr.shape), len(group))
            group.append(arr)
        metas.append(meta)
    return Chunk(
        metas,
        torch.from_numpy(np.stack(exact)) if exact else None,
        [torch.from_numpy(np.stack(g)) for g in groups.values()],
    )


def decode_loader(
    paths: Sequence[Path | str],
    spec: PreprocessSpec,
    *,
    mode: PreprocessMode = "exact",
    known: frozenset[int] = frozenset(),
    thumbnails: bool = False,
    workers: int | None = None,
    pin_memory: bool = False,
    chunk: int = DECODE_CHUNK,
) -> DataLoader[Chunk]:
    """Chunks of decoded images in input order. `workers=0` decodes in this process (debugging)."""
    workers = default_workers() if workers is None else workers
    ds = ImageFiles(paths, spec, mode=check_preprocess(mode), known=known, thumbnails=thumbnails)
    extra: dict[str, Any] = {}
    if workers > 0:
        # fork: workers start in milliseconds (spawn re-imports torch per worker, seconds), and they only run
        # Pillow/NumPy, never CUDA or onnxruntime, so forking a process that holds a CUDA context is safe (the
        # standard DataLoader setup). Single pass: persistent workers would buy nothing.
        methods = multiprocessing.get_all_start_methods()
        extra = {
            "multiprocessing_context": "fork" if "fork" in methods else "spawn",
            "prefetch_factor": 2,
            "persistent_workers": False,
        }
    return DataLoader(
        ds,
        batch_size=chunk,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        **extra,
    )


class TorchBackend:
    """`encoder` fed by a DataLoader (`decode_loader`): per chunk as it arrives, the exact inputs go to the device and
    the grayscale ones are resized there (`fast`); the model runs per batch of them."""

    def __init__(self, encoder: TorchEncoder, mode: PreprocessMode, workers: int | None = None):
        self.encoder = encoder
        self.mode = mode
        self.workers = default_workers() if workers is None else workers

    def decode(self, paths: Sequence[Path], known: frozenset[int], thumbnails: bool) -> Iterator[Group]:
        enc = self.encoder
        loader = decode_loader(paths, enc.spec, mode=self.mode, known=known, thumbnails=thumbnails,
                               workers=self.workers, pin_memory=enc.device.type == "cuda")  # fmt: skip
        for chunk in loader:
            parts: dict[int, torch.Tensor] = {}
            if chunk.exact is not None:
                parts[-1] = chunk.exact.to(enc.device, non_blocking=True)
            for g, gray in enumerate(chunk.gray):
                parts[g] = enc.gray_to_pixels(gray)
            order = sorted(parts)  # -1 (exact) first, then the size groups
            offsets, n = {}, 0
            for key in order:
                offsets[key] = n
                n += len(parts[key])
            rows = [None if m.slot is None else offsets[m.slot[0]] + m.slot[1] for m in chunk.items]
            items = [Decoded(m.index, m.sha, m.thumbnail, m.error, r) for m, r in zip(chunk.items, rows, strict=True)]
            yield Group(items, [parts[key] for key in order], n)

    def encode(self, inputs: list[torch.Tensor]) -> np.ndarray:
        return self.encoder.encode(torch.cat(inputs))


def embed_images_torch(
    paths: Sequence[Path],
    encoder: TorchEncoder,
    *,
    cache: EmbeddingCache | None = None,
    thumbnails: bool = False,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
    preprocess: PreprocessMode = "exact",
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Embedded]:
    """Yield one Embedded per path, in input order (the contract of `medmir.index.embed.onnx.embed_images`).

    Batches hold batch_size .. batch_size + DECODE_CHUNK - 1 inputs; one also runs once 4 x batch_size images wait,
    which bounds memory when most of them come from the cache (thumbnails only)."""
    if batch_size < 1:
        raise MedmirError(f"--batch-size must be at least 1, got {batch_size}")
    backend = TorchBackend(encoder, preprocess, workers)
    return embed_in_order(paths, backend, cache=cache, thumbnails=thumbnails, batch_size=batch_size,
                          hold=4 * batch_size, on_progress=on_progress)  # fmt: skip
