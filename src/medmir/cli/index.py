"""`medmir index`: embed images and write a bundle, or with `--update BUNDLE` change one in place. `index_options` is
the one place the command line fills `IndexOptions`; the stage (onnxruntime, torch or ray) loads only when run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from medmir.cli.common import (
    RANDOM_WEIGHTS,
    Subparsers,
    add_bundle_format,
    add_force,
    count,
    err,
    print_skipped,
    progress_bar,
)
from medmir.core.errors import MedmirError

if TYPE_CHECKING:
    from medmir.index.options import IndexOptions


def index_options(a: argparse.Namespace) -> IndexOptions:
    """The parsed `medmir index` arguments as the stage's options."""
    from medmir.index.embed.core import check_workers  # onnxruntime: only the commands that embed
    from medmir.index.options import IndexOptions

    return IndexOptions(
        a.images, a.labels, a.model, a.out, neighbors=a.neighbors, precision=a.precision, thumbnails=a.thumbnails,
        cache_dir=a.cache, batch_size=a.batch_size, workers=check_workers(a.workers), strict=a.strict,
        device=a.device, torch_dtype=a.dtype, preprocess_mode=a.preprocess, checkpoint=a.checkpoint, force=a.force,
        bundle_format=a.bundle_format, engine=a.engine, ray_address=a.address, shards=a.shards,
    )  # fmt: skip


def _index(a: argparse.Namespace) -> int:
    if a.update is not None:
        return _update(a)
    missing = [f"--{n}" for n in ("images", "labels", "out") if getattr(a, n) is None]
    if missing:
        raise MedmirError(f"medmir index needs {', '.join(missing)} (or --update BUNDLE)")
    if a.remove is not None:
        raise MedmirError("--remove goes with --update BUNDLE")
    from medmir.bundle.files import read_info
    from medmir.index.run import build_index

    with progress_bar() as bar:
        rep = build_index(index_options(a), on_progress=bar)
    err.print(escape(rep.summary()))
    print_skipped(rep.skipped.items)
    if read_info(a.out).random_weights:
        err.print(RANDOM_WEIGHTS)
    return 0


def _update(a: argparse.Namespace) -> int:
    from medmir.index.embed.core import check_workers  # the index stage: onnxruntime and the embedders
    from medmir.index.update import read_removals, update_index

    if a.out is not None:
        raise MedmirError("--update changes BUNDLE in place: leave out --out")
    removals = read_removals(a.remove) if a.remove else None
    with progress_bar() as bar:
        rep = update_index(
            a.update,
            a.model,
            images=a.images,
            labels=a.labels,
            remove=removals,
            cache_dir=a.cache,
            workers=check_workers(a.workers),
            batch_size=a.batch_size,
            engine=a.engine,
            ray_address=a.address,
            shards=a.shards,
            force=a.force,
            on_progress=bar,
        )
    err.print(escape(rep.summary()))
    for name in rep.unmatched:
        err.print(f"  --remove {escape(name)}: no row has this file name or patient id", soft_wrap=True)
    print_skipped(rep.skipped.items)
    return 0


def register(subparsers: Subparsers) -> None:
    ix = subparsers.add_parser("index", help="embed images and write a bundle")
    add_force(ix)
    ix.add_argument("--images", type=Path, help="the original images (embeddings come from these)")
    ix.add_argument("--labels", type=Path, help="their labels (with --update: optional, no CSV means no labels)")
    ix.add_argument("--model", required=True, type=Path, help="model pack folder")
    ix.add_argument("--out", type=Path, help="bundle folder (replaced atomically)")
    ix.add_argument(
        "--update",
        type=Path,
        metavar="BUNDLE",
        help="change this bundle instead: add --images (only new ones are embedded), --remove rows",
    )
    ix.add_argument(
        "--remove",
        type=Path,
        metavar="LIST",
        help="--update: a file of file names or patient ids (one a line) whose rows are removed",
    )
    ix.add_argument("--neighbors", type=count(), default=10, help="similar images stored per image")
    ix.add_argument("--precision", choices=("fp32", "int8"), default="fp32", help="vision model used for the index")
    ix.add_argument("--thumbnails", type=Path, default=None, help="`medmir process` output to reuse")
    ix.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "medmir" / "embeddings")
    ix.add_argument("--batch-size", type=count(), default=None, help="default: 16 (onnxruntime), 256 (cuda)")
    ix.add_argument("--device", default="cpu", help="cpu (onnxruntime, the pack's ONNX model) or cuda[:N] (PyTorch)")
    ix.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16", help="with --device cuda")
    ix.add_argument(
        "--preprocess",
        choices=("exact", "fast"),
        default="exact",
        help="with cuda: exact = the manifest's CPU preprocessing; fast = grayscale decode + resize on the GPU",
    )
    ix.add_argument(
        "--checkpoint", type=Path, default=None, help="with cuda: the checkpoint the pack was exported from"
    )
    ix.add_argument("--workers", type=count(), default=None)
    ix.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: embed with a Ray Data pipeline (pip install medmir[ray]; docs/RAY.md)",
    )
    ix.add_argument(
        "--address",
        default=None,
        help="--engine ray: the Ray cluster to join (default: start a local one with --workers CPUs)",
    )
    ix.add_argument(
        "--shards",
        type=Path,
        default=None,
        help="--engine ray: where embedding shards are kept, to resume from (default: under --cache)",
    )
    ix.add_argument("--strict", action="store_true", help="stop at the first unreadable or missing image")
    add_bundle_format(ix)
    ix.set_defaults(fn=_index)
