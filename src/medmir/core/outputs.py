"""Which folders a command may replace: never what medmir did not write.

A command's output folder is replaced only when it does not exist, is empty, or is a previous output of the same
command (it holds that command's marker file, or, for outputs written before markers existed, the command's own
contract file). Anything else is refused with a message; `--force` overrides that, but never for `/`, the home
folder, the current folder or one of its parents, or a folder that is, or contains, one of the command's inputs.
Symlinks are resolved first, so a link to an input is the input.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from medmir.core._version import __version__
from medmir.core.errors import MedmirError

MARKER = ".medmir-output.json"


def _json_format(path: Path, name: str) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == name
    except (OSError, ValueError, AttributeError):
        return False


# Outputs written before the marker existed (medmir 0.1 before round 2), recognised by the contract file only that
# command writes. Those layouts are frozen history (a new output always has its marker), so this bottom layer spells
# them out itself: every command knows every old output the same way, whatever else it imported.
_LEGACY: dict[str, Callable[[Path], bool]] = {
    "index": lambda d: _json_format(d / "index_info.json", "medmir-bundle"),
    "model export": lambda d: _json_format(d / "manifest.json", "medmir-model-pack"),
    "site": lambda d: (d / "index.html").is_file() and _json_format(d / "data" / "index_info.json", "medmir-bundle"),
    "select": lambda d: {p.name for p in d.iterdir()} == {"images", "labels.csv"},
    "model init-random": lambda d: (d / "medmir_random_init.json").is_file(),
}


def marker_for(command: str) -> dict[str, str]:
    return {"command": command, "medmir": __version__, "written": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def previous_output_of(folder: Path) -> str | None:
    """The command whose output `folder` is, or None."""
    try:
        cmd = json.loads((folder / MARKER).read_text(encoding="utf-8")).get("command")
        if isinstance(cmd, str):
            return cmd
    except (OSError, ValueError, AttributeError):
        pass
    return next((c for c, looks_like in _LEGACY.items() if looks_like(folder)), None)


def _protected(real: Path, inputs: Iterable[Path]) -> str | None:
    """Why `real` may never be replaced, or None."""
    if real == Path(real.anchor):
        return "the root of the file system"
    if real == Path.home().resolve():
        return "your home folder"
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        return "the current folder" if real == cwd else "a parent of the current folder"
    for inp in inputs:
        i = Path(inp).resolve()
        if real == i:
            return f"this command's input {inp}"
        if real in i.parents:
            return f"a folder that contains this command's input {inp}"
    return None


def check_output(final: Path, command: str, *, inputs: Iterable[Path] = (), force: bool = False) -> Path:
    """Raise unless `final` may be replaced by `command`'s output; returns the resolved folder."""
    real = final.resolve()
    why = _protected(real, inputs)
    if why:
        raise MedmirError(f"{final}: refusing to write the {command} output there: it is {why}")
    if not real.exists():
        return real
    if not real.is_dir():
        raise MedmirError(f"{final}: is a file, not a folder; choose a folder for the {command} output")
    entries = sorted(p.name for p in real.iterdir())
    if not entries or force:
        return real
    owner = previous_output_of(real)
    if owner == command:
        return real
    what = f"a `medmir {owner}` output" if owner else f"not a medmir output ({len(entries)} entries: {entries[0]!r}...)"
    raise MedmirError(
        f"{final}: refusing to replace it with the {command} output: it is {what}. Choose a new or empty folder, "
        "or pass --force to replace it"
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
