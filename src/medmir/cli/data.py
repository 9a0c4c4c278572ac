"""`medmir data download`: the NIH ChestX-ray14 release (medmir.data.download) with a byte-counting bar per file."""

from __future__ import annotations

import argparse
from pathlib import Path

from medmir.cli.common import Subparsers, err, progress_bar
from medmir.data.download import download_nih


def _download(args: argparse.Namespace) -> int:
    with progress_bar(unit="bytes") as bar:
        report = download_nih(
            args.out,
            args.archives,
            labels=args.labels,
            source=args.source,
            base_url=args.base_url,
            keep_archives=args.keep_archives,
            on_progress=bar,
            log=lambda msg: err.print(msg, markup=False),
        )
    err.print(
        f"{args.out}: downloaded {len(report.downloaded)} file(s) ({report.bytes_downloaded / 1e6:,.1f} MB), "
        f"extracted {len(report.extracted)}, already there {len(report.skipped)}",
        markup=False,
    )
    return 0


def register(subparsers: Subparsers) -> None:
    """`medmir data` and its one action, `download`."""
    data = subparsers.add_parser("data", help="fetch source data")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = dsub.add_parser(
        "download",
        help="fetch the NIH ChestX-ray14 label CSV and image archives (resumable, extracts safely)",
        description="Download Data_Entry_2017_v2020.csv and images_NNN.tar.gz from NIH, resuming partial files, "
        "and extract each archive to OUT/images_NNN/images/. Re-runs skip what is already there.",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to write into")
    p.add_argument(
        "--archives",
        default="all",
        metavar="SPEC",
        help="which of the 12 image archives: all (default), 1,2 or 3-5 (about 2-4 GB each)",
    )
    p.add_argument("--no-labels", dest="labels", action="store_false", help="skip the label CSV")
    p.add_argument(
        "--source",
        choices=("nih", "kaggle"),
        default="nih",
        help="nih: NIH's Box links (default); kaggle: the nih-chest-xrays/data data set (needs the kaggle package "
        "and credentials)",
    )
    p.add_argument("--base-url", default=None, metavar="URL", help="fetch every file from URL/FILENAME (a mirror)")
    p.add_argument("--keep-archives", action="store_true", help="keep each .tar.gz after extracting it")
    p.set_defaults(fn=_download)
