"""Checks done once: a record of folders (bundles, model packs) that passed their full check, with the size and
modification time of each file the check read. A search opens the same bundle and pack many times; hashing every file
of a 112,120-image bundle and a 1 GB pack each time cost seconds. A changed, added or removed file means a new check.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from medmir.core.fsutil import atomic_write_json

VERIFIED_ENV = "MEDMIR_VERIFIED"  # where the record is kept (default: ~/.cache/medmir/verified.json)


def record_path() -> Path:
    home = os.environ.get(VERIFIED_ENV)
    if home:
        return Path(home)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "medmir" / "verified.json"


def fingerprint(root: Path, files: Iterable[Path]) -> dict[str, list[int]]:
    """Size and modification time (ns) of each file, by its path under `root`."""
    out = {}
    for p in sorted(files):
        st = p.stat()
        out[p.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


def check_once(kind: str, root: Path, files: Iterable[Path], check: Callable[[], object]) -> None:
    """Runs `check` (which raises on a bad folder) unless `root` passed it before with the same `files` unchanged."""
    key = f"{kind}:{root.resolve()}"
    fp = fingerprint(root, files)
    path = record_path()
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            record = {}
    except (OSError, ValueError):
        record = {}
    if record.get(key) == fp:
        return
    check()
    record[key] = fp
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, record)
    except OSError:
        pass  # a read-only home: check again next time
