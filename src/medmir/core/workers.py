"""Worker process pools whose processes die with the process that started them.

A pool worker blocks reading its task queue, whose write end every worker also holds: when the parent is killed
(kill -9, OOM killer) no end-of-file ever comes, so without this the workers, and multiprocessing's resource tracker
that waits for them, live on as orphans.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

# Fresh worker processes: forking a parent that runs onnxruntime's or torch's thread pools risks deadlocks.
SPAWN = multiprocessing.get_context("spawn")
_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5


def spawn_pool(max_workers: int) -> ProcessPoolExecutor:
    """A pool of spawned processes that end when this process ends, however it ends."""
    return ProcessPoolExecutor(
        max_workers=max_workers, mp_context=SPAWN, initializer=die_with_parent, initargs=(os.getpid(),)
    )


def die_with_parent(parent: int) -> None:
    """Pool initializer: end this process when `parent` (the pid that started it) dies.

    Linux: the kernel sends SIGKILL the moment the parent dies, even while this process is busy in C code (the
    signal follows the parent thread that started the worker; pools are created and used by one thread). Elsewhere
    a daemon thread polls the parent pid. Either way, a parent that died before this ran is caught at once.
    """
    if not _kill_on_parent_death():
        threading.Thread(target=watch_parent, args=(parent,), name="medmir-parent-watch", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def _kill_on_parent_death() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the symbols already loaded: libc's prctl among them
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent: int) -> None:
    """Block until `parent` is no longer this process's parent, then exit at once (run it in a daemon thread)."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)
