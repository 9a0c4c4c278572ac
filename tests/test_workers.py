"""Helper processes die with their parent: kill -9 a real `medmir index` (and the other owners) and look in /proc."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import NIH_SAMPLE

from medmir.model.webruntime import web_runtime_version

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
GRACE_S = 5.0
T = TypeVar("T")


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """pid -> start time of every process below `root`."""
    table = {int(d.name): s for d in Path("/proc").iterdir() if d.name.isdigit() and (s := _stat(int(d.name)))}
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _, start) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def _alive(procs: dict[int, str]) -> dict[int, str]:
    """Those still running (a zombie has ended; a new process under a reused pid is another one)."""
    return {p: s for p, s in procs.items() if (st := _stat(p)) and st[1] != "Z" and st[2] == s}


def _wait_for(condition: Callable[[], T], timeout: float) -> T:
    """The first truthy value of `condition()`, or its last value after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < end:
        time.sleep(0.1)
    return value


def _kill_and_check(parent: subprocess.Popen[bytes], children: dict[int, str]) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    try:
        gone = _wait_for(lambda: not _alive(children), GRACE_S)
        assert gone, f"still running {GRACE_S} s after their parent was killed: {_alive(children)}"
    finally:
        for pid in _alive(children):  # only the processes this test started
            os.kill(pid, signal.SIGKILL)


def test_index_workers_die_with_a_killed_index(tiny_pack: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:150]  # minutes of work at 2 workers
    (tmp_path / "imgs").mkdir()
    for n in names:
        shutil.copy(NIH_SAMPLE / "images" / n, tmp_path / "imgs" / n)
    (tmp_path / "l.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in names))
    index = subprocess.Popen(
        [sys.executable, "-m", "medmir.cli", "index", "--images", str(tmp_path / "imgs"), "--labels",
         str(tmp_path / "l.csv"), "--model", str(tiny_pack), "--out", str(tmp_path / "b"), "--cache",
         str(tmp_path / "cache"), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # two decoding workers and multiprocessing's resource tracker
        children = _wait_for(lambda: d if len(d := _descendants(index.pid)) >= 3 else {}, 120)
        assert children, f"no workers appeared (index exited with {index.poll()})"
        _kill_and_check(index, children)
    finally:
        if index.poll() is None:
            index.kill()
    assert not (tmp_path / "b").exists()


def test_watch_parent_without_the_kernel_signal(tmp_path: Path) -> None:
    """The portable path (not Linux): a thread that polls the parent pid."""
    # it says when its watch runs: killing the parent earlier (a slow import on a loaded machine) would make it watch
    # whatever process adopted it instead
    ready = tmp_path / "watching"
    grandchild = (
        "import os, threading, time\nfrom pathlib import Path\nfrom medmir.core.workers import watch_parent\n"
        "threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()\n"
        f"Path({str(ready)!r}).touch()\ntime.sleep(120)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {grandchild!r}])"
         "\ntime.sleep(120)"],
    )  # fmt: skip
    try:
        assert _wait_for(ready.exists, 60)
        kids = _descendants(child.pid)
        assert kids
        _kill_and_check(child, kids)
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.skipif(web_runtime_version() is None, reason="needs Node and web/node_modules")
def test_node_text_encoder_dies_with_its_parent(tiny_pack: Path) -> None:
    """The browser-runtime helper (one long-lived Node process) ends when its stdin closes with the parent."""
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom medmir.model.pack import ModelPack\n"
        f"pack = ModelPack.open(Path({str(tiny_pack)!r}), text_runtime='web')\npack.encode_text(['effusion'])\n"
        "print('ready', flush=True)\ntime.sleep(120)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == b"ready"
        node = {p: s for p, s in _descendants(owner.pid).items() if b"node" in Path(f"/proc/{p}/cmdline").read_bytes()}
        assert node
        _kill_and_check(owner, node)
    finally:
        if owner.poll() is None:
            owner.kill()
