"""Write web/test/fixtures/{metrics,hard_cases}.json from a bundle that `medmir evaluate` has scored.

Run: .venv/bin/python scripts/make_metrics_fixture.py BUNDLE [--out web/test/fixtures]
The web tests render the Metrics and Hard cases pages from these files, so they must be what Python writes today:
tests/test_evaluate.py compares their structure with a fresh evaluation and fails on any drift (a field added,
renamed or retyped in Python without regenerating the fixtures).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from medmir.core.fsutil import atomic_write_json

FILES = ("metrics.json", "hard_cases.json")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "web" / "test" / "fixtures"


def structure(value: Any, path: str = "") -> set[str]:
    """Every key path with its JSON type; list items are merged, so the set describes the format, not the data."""
    if isinstance(value, dict):
        out = {f"{path}:object"}
        for k, v in value.items():
            out |= structure(v, f"{path}.{k}")
        return out
    if isinstance(value, list):
        out = {f"{path}:array"}
        for v in value:
            out |= structure(v, f"{path}[]")
        return out
    kind = (
        "null"
        if value is None
        else "number"
        if isinstance(value, int | float) and not isinstance(value, bool)
        else type(value).__name__
    )
    return {f"{path}:{kind}"}


def write_fixtures(bundle: Path, out: Path) -> list[Path]:
    written = []
    for name in FILES:
        data = json.loads((bundle / name).read_text(encoding="utf-8"))
        target = out / name
        atomic_write_json(target, data)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("bundle", type=Path, help="a bundle folder with metrics.json and hard_cases.json")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = p.parse_args(argv)
    for path in write_fixtures(a.bundle, a.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
