"""What every subcommand shares: the console on stderr, the whole-number and facet option types, the options
several commands take (--force, --bundle-format, the DICOM group), the log and skipped-file printers, and the one
progress-bar factory (stages report progress through an `on_progress` callback and print nothing; only the CLI
draws)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from medmir.bundle.format import DEFAULT_BUNDLE_FORMAT, RANDOM_WARNING, READABLE_VERSIONS
from medmir.core.progress import OnProgress

if TYPE_CHECKING:
    from medmir.data.subset import DicomSettings

err = Console(stderr=True, highlight=False)
# What `add_subparsers()` returns: each subcommand module's `register(subparsers)` adds its parsers to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler = Callable[[argparse.Namespace], int]
RANDOM_WEIGHTS = f"[bold red]{RANDOM_WARNING}[/bold red]"
FORCE_HELP = (
    "replace OUT even when it is not empty and not a previous output of this command "
    "(never an input, the current folder, home or /)"
)


def progress_enabled() -> bool:
    """Bars only on a terminal: a log file or a pipe gets the summary lines alone."""
    return err.is_terminal


@contextmanager
def progress_bar(enabled: bool | None = None, *, unit: str = "items", transient: bool = False) -> Iterator[OnProgress]:
    """The one Rich display of the command line: yields the `on_progress(task, advance, total)` a stage calls; a bar
    per task, made on its first call. `unit="bytes"`: sizes and speed (downloads) instead of counts."""
    count = (MofNCompleteColumn(),) if unit == "items" else (DownloadColumn(), TransferSpeedColumn())
    columns = (TextColumn("{task.description}"), BarColumn(), *count, TimeRemainingColumn())
    show = progress_enabled() if enabled is None else enabled
    with Progress(*columns, console=err, disable=not show, transient=transient) as bar:
        tasks: dict[str, TaskID] = {}

        def report(task: str, advance: int, total: int | None) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            elif total is not None and bar.tasks[tasks[task]].total != total:
                bar.update(tasks[task], total=total)
            if advance:
                bar.advance(tasks[task], advance)

        yield report


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """The argparse type of every whole-number option: a bad value is a usage error naming the option (exit 2),
    never a traceback or a silently empty result (--neighbors 0) deep inside a stage."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if maximum is not None and not minimum <= n <= maximum:
            raise argparse.ArgumentTypeError(f"must be from {minimum} to {maximum}, got {n}")
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n

    return parse


def facet_filter(text: str) -> tuple[str, tuple[str, ...]]:
    """The argparse type of `--facet NAME=V1,V2`."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,VALUE...], got {text!r}")
    return name.strip(), tuple(v.strip() for v in values.split(",") if v.strip())


def add_force(parser: argparse.ArgumentParser) -> None:
    """`--force` of the commands that replace an OUT folder."""
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def add_bundle_format(parser: argparse.ArgumentParser) -> None:
    """`--bundle-format` of `medmir index` and `medmir build`: version 2 unless told."""
    parser.add_argument(
        "--bundle-format",
        type=int,
        choices=READABLE_VERSIONS,
        default=DEFAULT_BUNDLE_FORMAT,
        help=f"bundle format to write (default {DEFAULT_BUNDLE_FORMAT}): 2 = compact int8 rows in shards, thumbnails "
        "in packs, columnar metadata (any collection size; docs/FORMAT.md); 1 = float32 embeddings.bin, "
        "nearest_neighbors.json and images/ (e.g. for comparison)",
    )


def add_dicom_options(parser: argparse.ArgumentParser) -> None:
    """The DICOM group of `medmir select` and `medmir build`; `dicom_settings` reads it back."""
    g = parser.add_argument_group("DICOM sources (docs/DICOM.md)")
    g.add_argument("--salt-file", type=Path, default=None,
                   help="the secret salt of the pseudonyms (default: $MEDMIR_SALT, else ~/.config/medmir/dicom-salt, "
                        "made on first use); never written into a bundle")  # fmt: skip
    g.add_argument("--keep-names", action="store_true", help="keep the DICOM file names instead of pseudonyms")
    g.add_argument("--all-frames", action="store_true", help="index every frame of a multi-frame image")
    g.add_argument("--allow-burned-in", action="store_true",
                   help="index images whose BurnedInAnnotation is YES (text in the pixels)")  # fmt: skip


def dicom_settings(a: argparse.Namespace) -> DicomSettings:
    from medmir.data.subset import DicomSettings  # the select stage (numpy) loads only in the commands that run it

    return DicomSettings(a.salt_file, a.keep_names, a.all_frames, a.allow_burned_in)


def log(s: str) -> None:
    """A stage's log line: dim, or bold red when it is a WARNING."""
    style = "bold red" if s.startswith("WARNING") else "dim"
    err.print(f"[{style}]medmir[/{style}] {escape(s)}", soft_wrap=True)


def print_skipped(items: list[tuple[str, str]], limit: int = 20) -> None:
    """The first `limit` skipped inputs of a report, each with why, then how many more."""
    for what, why in items[:limit]:
        err.print(f"  skipped {escape(what)}: {escape(why)}", soft_wrap=True)
    if len(items) > limit:
        err.print(f"  ... and {len(items) - limit} more")
