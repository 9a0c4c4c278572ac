"""`medmir process`: a small WebP thumbnail of every image in a folder (medmir.imaging.thumbnails)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from medmir.cli.common import Subparsers, count, err, progress_bar


def register(subparsers: Subparsers) -> None:
    """Add `process` to an `add_subparsers()` object; the handler is set as `fn`."""
    p = subparsers.add_parser(
        "process", help="make a small WebP thumbnail (longest side 256) of every image in a folder"
    )
    p.add_argument("--input", required=True, type=Path, metavar="DIR", help="folder of images, searched recursively")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for <stem>.webp thumbnails")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping it")
    p.add_argument("--workers", type=count(), default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="redo thumbnails that are newer than their input")
    p.set_defaults(fn=handler)


def handler(args: argparse.Namespace) -> int:
    """Run the stage and print its summary and skipped files to stderr. Errors propagate as MedmirError."""
    from medmir.imaging.thumbnails import process_images  # numpy and Pillow load only in the commands that decode

    with progress_bar() as bar:
        report = process_images(
            args.input, args.out, strict=args.strict, workers=args.workers, force=args.force, on_progress=bar
        )
    for path, reason in report.skipped:
        # File names come from the user's disk: escape them so "[b]" or "[/]" in a name is printed, not parsed.
        err.print(f"[yellow]skipped[/yellow] {escape(str(path))}: {escape(reason)}", soft_wrap=True)
    err.print(escape(report.summary()), soft_wrap=True)
    return 0
