"""`medmir select`: a balanced subset of NIH ChestX-ray14, of your folder + CSV, or of a DICOM folder
(de-identified on the way; docs/DICOM.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from medmir.cli.common import (
    Subparsers,
    add_dicom_options,
    add_force,
    count,
    dicom_settings,
    err,
    print_skipped,
    progress_bar,
)


def _select(a: argparse.Namespace) -> int:
    from medmir.data.subset import select  # the select stage (numpy, pydicom) loads only in this command

    with progress_bar() as bar:
        rep = select(a.source, a.labels, a.out, per_label=a.per_label, seed=a.seed,
                     one_per_patient=a.one_per_patient, force=a.force, dicom=dicom_settings(a), on_progress=bar,
                     workers=a.workers)  # fmt: skip
    err.print(escape(rep.summary()), soft_wrap=True)
    print_skipped(rep.skipped.items)
    return 0


def register(subparsers: Subparsers) -> None:
    se = subparsers.add_parser("select", help="balanced subset of NIH ChestX-ray14 (or your folder + CSV)")
    add_force(se)
    se.add_argument("--source", required=True, type=Path, help="folder with the images (flat or nested)")
    se.add_argument("--labels", type=Path, default=None,
                    help="NIH Data_Entry_2017*.csv[.gz] or filename,labels CSV (for DICOM: optional, keyed by "
                         "filename or sop_instance_uid)")  # fmt: skip
    se.add_argument("--out", required=True, type=Path)
    se.add_argument("--per-label", type=count(), default=None, help="up to N images per label (default: all images)")
    se.add_argument("--seed", type=count(0), default=42)
    se.add_argument("--one-per-patient", action="store_true")
    se.add_argument("--workers", type=count(), default=None, help="DICOM decoding processes (default: every core)")
    add_dicom_options(se)
    se.set_defaults(fn=_select)
