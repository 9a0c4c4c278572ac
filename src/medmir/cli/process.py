"""The `medmir process` sub-command; `register` is wired into the main parser by medmir.cli.main."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add `process` to an `add_subparsers()` object; the handler is set as `fn`."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "process", help="make a small WebP thumbnail (longest side 256) of every image in a folder"
    )
    p.add_argument("--input", required=True, type=Path, metavar="DIR", help="folder of images, searched recursively")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder for <stem>.webp thumbnails")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping it")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="redo thumbnails that are newer than their input")
    p.set_defaults(fn=handler)
    return p


def handler(args: argparse.Namespace) -> int:
    """Run the stage and print its summary and skipped files to stderr. Errors propagate as MedmirError."""
    from medmir.imaging.thumbnails import process_images

    err = Console(stderr=True, highlight=False)
    report = process_images(
        args.input, args.out, strict=args.strict, workers=args.workers, force=args.force, progress=err.is_terminal
    )
    for path, reason in report.skipped:
        # File names come from the user's disk: escape them so "[b]" or "[/]" in a name is printed, not parsed.
        err.print(f"[yellow]skipped[/yellow] {escape(str(path))}: {escape(reason)}", soft_wrap=True)
    err.print(escape(report.summary()), soft_wrap=True)
    return 0
