"""Results files and the generated blocks of the docs that quote them (figures are never typed by hand)."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict[str, Any]:
    import os

    cpu, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    # the flags that decide which INT8 kernels onnxruntime runs (docs/QUANTIZATION.md)
    isa = " ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags) or "no AVX2"
    return {
        "cpu": cpu,
        "cpu_flags": isa,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    from medmir.core.fsutil import atomic_write_json

    path = RESULTS / f"{name}.json"
    atomic_write_json(path, data)
    return path


def measure_and_render(
    name: str, doc: Path, block: str, measure: Callable[[], dict[str, Any]], render: Callable[[dict], str]
) -> None:
    """A benchmark's main: measure (unless --render-only) into results/NAME.json, then render it into the doc."""
    if "--render-only" not in sys.argv:
        r = measure()
        r["measured_at"] = dt.date.today().isoformat()
        r["machine"] = machine()
        write_result(name, r)
    r = read_result(name)
    replace_block(doc, block, render(r))
    print(render(r))


def read_result(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- BEGIN generated:{name} -->", f"<!-- END generated:{name} -->"


def replace_block(doc: Path, name: str, body: str) -> None:
    begin, end = _markers(name)
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: no block {begin}")
    doc.write_text(pattern.sub(lambda _: f"{begin}\n{body.rstrip()}\n{end}", text), encoding="utf-8")


def read_block(doc: Path, name: str) -> str:
    begin, end = _markers(name)
    text = doc.read_text(encoding="utf-8")
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


# Novel queries for the browser benchmarks (none is a precomputed fallback query, so each runs the text model):
# benchmarks/run.py's user path and benchmarks/scale.py.
NOVEL_QUERIES = [
    "left basilar opacity suspicious for early infection",
    "enlarged cardiac silhouette with vascular congestion",
    "small left apical pneumothorax with mediastinal shift",
    "diffuse bilateral interstitial opacities",
    "nodular density projecting over the right upper lobe",
    "blunting of the left costophrenic angle",
]
