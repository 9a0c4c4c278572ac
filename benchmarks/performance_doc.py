"""Render the newest benchmarks/results/<date>-<machine>.json into docs/PERFORMANCE.md and the README's headline.

Run by `make bench`; `--render-only` is what the docs test calls to compare.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import RESULTS, ROOT, replace_block
from benchmarks.run import headline, table

DOC = ROOT / "docs" / "PERFORMANCE.md"
README = ROOT / "README.md"


def latest() -> tuple[str, dict[str, Any]]:
    runs = sorted(p for p in RESULTS.glob("20*-*.json"))
    if not runs:
        raise SystemExit("no benchmark results: run `make bench`")
    return runs[-1].name, json.loads(runs[-1].read_text(encoding="utf-8"))


def render_doc(name: str, r: dict[str, Any]) -> str:
    m = r["machine"]
    return (
        f"From `benchmarks/results/{name}`, measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores), "
        f"headless Chromium (onnxruntime-web WASM), full-size random-weight BiomedCLIP pack. Medians of repeated "
        f"runs (p95 in the results file).\n\n" + table(r)
    )


def render_headline(name: str, r: dict[str, Any]) -> str:
    h = headline(r)
    return (
        f"Measured on this project's 2-core test machine (`benchmarks/results/{name}`): a short live text query takes "
        f"{h['short_query_int8_ms']} ms in the browser, {h['speedup_vs_fp32_padded_256']}x faster than an FP32 model "
        f"padded to 256 tokens; ranking {h['ranking_n']:,} images takes {h['ranking_browser_ms']} ms "
        f"({h['ranking_speedup_vs_plain']}x a plain loop and sort); with the model cached, the first live result "
        f"comes {h['cold_start_with_cache_ms']} ms after page load; a first visit downloads {h['first_visit_mb']} MB, "
        f"a repeat visit {h['repeat_visit_kb']} kB. Details: [docs/PERFORMANCE.md](docs/PERFORMANCE.md)."
    )


def main() -> None:
    name, r = latest()
    replace_block(DOC, "bench", render_doc(name, r))
    replace_block(README, "headline", render_headline(name, r))
    print(render_doc(name, r))


if __name__ == "__main__":
    main()
