"""How a stage reports progress without printing: it calls `on_progress(task, advance, total)` and the caller (the
command line's one Rich bar factory, `medmir.cli.common.progress_bar`) draws it, or nothing does."""

from __future__ import annotations

from collections.abc import Callable

# (task, how many more are done, how many the task has in all); the first call of a task names its total
OnProgress = Callable[[str, int, int | None], None]


def no_progress(task: str, advance: int, total: int | None) -> None:
    """The default of every stage: progress is reported to no one."""


def task_progress(on_progress: OnProgress | None, task: str, total: int) -> Callable[[int], None]:
    """A callback advancing one task by n (what the embedders and the neighbour search call), announced at 0."""
    report = on_progress or no_progress
    report(task, 0, total)
    return lambda n: report(task, n, total)
