"""`medmir build`: select -> process -> index -> evaluate -> site in one command (medmir.cli.pipeline), its inputs
from the options or $MEDMIR_DATA / $MEDMIR_MODEL, one progress display for every stage."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.markup import escape

from medmir.cli.common import (
    Subparsers,
    add_bundle_format,
    add_dicom_options,
    add_force,
    count,
    dicom_settings,
    err,
    log,
    progress_bar,
)
from medmir.cli.pipeline import DEFAULT_CONFIG, RANDOM_MODEL, build
from medmir.core.errors import MedmirError
from medmir.site.paths import WEB_DIST


def _how_to_set() -> str:
    return (
        "set MEDMIR_DATA (or --data) to a folder with NIH ChestX-ray14 images and Data_Entry_2017_v2020.csv[.gz] "
        "(`medmir data download --out DIR` fetches them), and MEDMIR_MODEL (or --model) to a model pack folder "
        f"(`medmir model export`) or '{RANDOM_MODEL}' for an offline random-weight pack"
    )


def resolve_inputs(data: str | None, model: str | None) -> tuple[Path, str]:
    """--data and --model, else $MEDMIR_DATA and $MEDMIR_MODEL; a missing one says how to set it."""
    data = data or os.environ.get("MEDMIR_DATA")
    model = model or os.environ.get("MEDMIR_MODEL")
    if not data or not model:
        missing = " and ".join(n for n, v in (("data", data), ("model", model)) if not v)
        raise MedmirError(f"no {missing} given: {_how_to_set()}")
    if not Path(data).is_dir():
        raise MedmirError(f"{data}: data folder not found; {_how_to_set()}")
    return Path(data), model


def _build(a: argparse.Namespace) -> int:
    from medmir.index.embed.core import check_workers  # onnxruntime: only the commands that embed

    data, model = resolve_inputs(a.data, a.model)
    with progress_bar() as bar:
        res = build(data, model, a.out, labels=a.labels, per_label=a.per_label, seed=a.seed,
                    one_per_patient=a.one_per_patient, precision=a.precision, model_config=a.model_config,
                    workers=check_workers(a.workers), app=a.app, log=log, force=a.force,
                    bundle_format=a.bundle_format, dicom=dicom_settings(a), on_progress=bar)  # fmt: skip
    err.print(f"bundle: {escape(str(res.bundle))}\nmodel pack: {escape(str(res.pack))}\nsite: {escape(str(res.site))}")
    return 0


def register(subparsers: Subparsers) -> None:
    bu = subparsers.add_parser("build", help="select -> process -> index -> evaluate -> site in one command")
    add_force(bu)
    bu.add_argument("--data", default=None, help="NIH folder (default: $MEDMIR_DATA)")
    bu.add_argument("--model", default=None, help=f"model pack or '{RANDOM_MODEL}' (default: $MEDMIR_MODEL)")
    bu.add_argument("--out", type=Path, default=Path("build") / "demo")
    bu.add_argument("--labels", type=Path, default=None,
                    help="label CSV (default: the NIH file in --data; for DICOM, labels.csv there if "
                         "present)")  # fmt: skip
    bu.add_argument("--per-label", type=count(), default=None,
                    help="up to N images per label (default: 100 for NIH, every image of a DICOM folder)")  # fmt: skip
    bu.add_argument("--seed", type=count(0), default=42)
    bu.add_argument("--one-per-patient", action="store_true")
    bu.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    bu.add_argument("--model-config", type=Path, default=DEFAULT_CONFIG, help="config + vocab for random-biomedclip")
    bu.add_argument("--workers", type=count(), default=None)
    bu.add_argument("--app", type=Path, default=WEB_DIST, help="the built web app")
    add_bundle_format(bu)
    add_dicom_options(bu)
    bu.set_defaults(fn=_build)
