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
from benchmarks.run import headline, table, user_path_table

DOC = ROOT / "docs" / "PERFORMANCE.md"
README = ROOT / "README.md"


def latest() -> tuple[str, dict[str, Any]]:
    runs = sorted(p for p in RESULTS.glob("20*-*.json"))
    if not runs:
        raise SystemExit("no benchmark results: run `make bench`")
    return runs[-1].name, json.loads(runs[-1].read_text(encoding="utf-8"))


def render_doc(name: str, r: dict[str, Any]) -> str:
    m = r["machine"]
    c = r["user_path"]["config"]
    return (
        f"From `benchmarks/results/{name}`, measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores), "
        f"headless Chromium (onnxruntime-web WASM), full-size random-weight BiomedCLIP pack.\n\n"
        f"**The user's path.** {len(c['queries'])} novel queries typed key by key ({c['typeDelayMs']} ms a key) "
        f"into the served site as soon as it says it is ready, each sent with Enter; then {len(c['images'])} images "
        f'chosen in the file chooser {c["pickDelayMs"]} ms after a click on "Search with an image…". Each figure is '
        f"the embedding time the result reports (including any wait for a warm-up run), against the WASM floor of "
        f"the same input measured in Node right after it, so both see the same machine load: the same INT8 model "
        f"on the same onnxruntime-web WASM build, 1 thread, warm, the median of {c['floor']['runs']} runs back to "
        f"back; the floor after idle is one more run before those, after the same idle pause as the user's. Wall: "
        f"from Enter (or the chosen file) to the results on screen.\n\n"
        + user_path_table(r)
        + "\n\n**Kernel figures** (`benchmarks/browser/bench.html`): the model alone on the page's main thread, run "
        'back to back once the page\'s kernels are optimised (the "first runs of a new page" rows, on a fresh browser '
        "each) and after warm-up runs; what the model costs, not what a user waits. Medians of repeated runs (p95 in "
        "the results file).\n\n" + table(r)
    )


def render_headline(name: str, r: dict[str, Any]) -> str:
    h = headline(r)
    return (
        f"Measured on this project's 2-core test machine (`benchmarks/results/{name}`), as a user meets the site "
        f"(`medmir serve`, first visit, {h['user_threads']} WASM thread): a novel query typed into the search box is "
        f"embedded in {h['user_text_first_ms']} ms for the first query and {h['user_text_next_ms']} ms for the next "
        f"{h['user_text_next_count']} (median), {h['user_text_first_ratio']}x and {h['user_text_next_ratio']}x the "
        f"WASM floor of the same INT8 model ({h['user_text_floor_ms']} ms: 1 thread, warm, in Node); on a plain "
        f"static server {h['user_text_static_first_ratio']}x and {h['user_text_static_next_ratio']}x; on visit "
        f"{h['user_last_visit']}, with the thread count this device measured fastest ({h['user_last_threads']} WASM "
        f"threads), "
        f"{h['user_last_first_ratio']}x and {h['user_last_next_ratio']}x; an uploaded "
        f"image in {h['user_image_first_ms']} and {h['user_image_next_ms']} ms ({h['user_image_first_ratio']}x and "
        f"{h['user_image_next_ratio']}x its floor of {h['user_image_floor_ms']} ms). Kernel figures (the model "
        f"alone, back to back): a short text query runs in {h['short_query_int8_ms']} ms, "
        f"{h['speedup_vs_fp32_padded_256']}x faster than an FP32 model padded to 256 tokens; ranking "
        f"{h['ranking_n']:,} images takes {h['ranking_browser_ms']} ms "
        f"({h['ranking_speedup_vs_plain']}x a plain loop and sort); with the model cached, the first live result "
        f"comes {h['cold_start_with_cache_ms']} ms after page load; a first visit downloads {h['first_visit_mb']} MB, "
        f"a repeat visit {h['repeat_visit_kb']} kB.{scale_sentence()}{python_sentence()} "
        "Details: [docs/PERFORMANCE.md](docs/PERFORMANCE.md)."
    )


def scale_sentence() -> str:
    """The whole NIH collection in the browser, from `make scale-bench`'s results (empty when there are none)."""
    path = RESULTS / "scale.json"
    if not path.is_file():
        return ""
    from benchmarks.scale import figures

    r = json.loads(path.read_text(encoding="utf-8"))
    site = next((s for s in r["sites"].values() if s["format_version"] == 2 and s["rows"] == 112_120), None)
    if site is None or "summary" not in site:
        return ""
    f = figures(site)
    return (
        f" The whole NIH collection, {site['rows']:,} images (`make scale-bench`, benchmarks/results/scale.json, "
        f"{r['measured_at']}): a first visit downloads {f['first_visit_mb_until_ready']} MB before the page can "
        f"search and shows the first live result {f['first_live_result_s_first']} s after navigation, a repeat visit "
        f"{f['first_live_result_s_repeat']} s; ranking takes {f['rank_ms']} ms, recall@10 against exact float32 "
        f"{f['recall_page']}, the page and its worker {f['page_pss_gb']} GB of memory, the site "
        f"{f['site_files']} files."
    )


def python_sentence() -> str:
    """`medmir search` at full scale, from `make python-api-bench`'s results (empty when there are none)."""
    path = RESULTS / "python_api.json"
    if not path.is_file():
        return ""
    r = json.loads(path.read_text(encoding="utf-8"))
    s = r["sizes"].get("v2-112120")
    if s is None or "before" not in s:
        return ""
    return (
        f" From Python at {s['rows']:,} images (`make python-api-bench`, benchmarks/results/python_api.json): one "
        f"`medmir search` takes {s['web']['cli_median_s']} s, process start included ({s['before']['cli_median_s']} s "
        f"before the Python API); a query of a 1,000-query batch {s['web']['batch_ms']} ms with the browser's runtime, "
        f"{s['native']['batch_ms']} ms with onnxruntime's."
    )


def main() -> None:
    name, r = latest()
    replace_block(DOC, "bench", render_doc(name, r))
    replace_block(README, "headline", render_headline(name, r))
    print(render_doc(name, r))


if __name__ == "__main__":
    main()
