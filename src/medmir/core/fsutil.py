"""Atomic writes and checksums: every file medmir writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from medmir.core.outputs import MARKER, check_output, marker_for, pid_alive


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; the result is an ordinary file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


STALE_AFTER_S = 3600  # partial folders of older medmir versions carry no process id: removed once this old


def _clean_stale(parent: Path, name: str) -> None:
    """Remove what interrupted runs left beside `name`: partial and old folders of processes that are gone."""
    for p in parent.glob(f".{name}.*"):
        if not p.is_dir() or p.is_symlink():
            continue
        tag = p.name[len(name) + 2 :]
        kind, _, rest = tag.partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("partial", "old") and pid.isdigit():
            stale = not pid_alive(int(pid))
        else:  # before process ids: .NAME.XXXXXXXX.partial
            stale = tag.endswith(".partial") and time.time() - p.stat().st_mtime > STALE_AFTER_S
        if stale:
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def staging_dir(final: Path, command: str, *, inputs: Iterable[Path] = (), force: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it replaces `final` in one rename, on failure it vanishes.

    `final` is checked first (medmir.core.outputs.check_output): only a new or empty folder, or a previous output of the
    same `command`, is replaced. A previous `final` survives any failure: it is moved aside only once the new folder
    is complete. The new folder carries `command`'s marker, so the next run knows it may replace it.
    """
    final = check_output(final, command, inputs=inputs, force=force)
    final.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(final.parent, final.name)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.partial-{os.getpid()}-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield tmp
        atomic_write_json(tmp / MARKER, marker_for(command))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
