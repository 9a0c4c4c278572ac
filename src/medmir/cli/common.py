"""What every subcommand shares: the console on stderr, the whole-number option type, and the one progress-bar
factory (stages report progress through an `on_progress` callback and print nothing; only the CLI draws)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
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

from medmir.core.progress import OnProgress

err = Console(stderr=True, highlight=False)


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
