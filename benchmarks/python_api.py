"""`medmir search` at full scale, from the command line as a user runs it (process start included), in one run:

- one query, the first call after a bundle changed (it verifies bundle and pack) and the next ones (median);
- a batch of 1,000 queries (`--queries FILE --out F`), the whole command's time divided by 1,000;

at 112,120 and 500,000 synthetic rows (benchmarks/scale.py's version 2 bundles: the real NIH label rows, MiniLM
clinical phrases lifted to 512-d) with the full-size random-weight BiomedCLIP pack, with each INT8 text runtime
(web: the site's onnxruntime-web, the browser's numbers on any CPU; native: onnxruntime), against the command before
the Python API (commit BEFORE, run from a git worktree: every call verified and parsed the whole bundle; it had no
batch mode, so 1,000 queries were 1,000 calls).

-> benchmarks/results/python_api.json and the "python-api" block of docs/PERFORMANCE.md. `--quick`: 3,000 rows, the
tiny pack, 20 queries, no BEFORE run, into build/ (tests/test_python_api_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, scale
from benchmarks.report import RESULTS, ROOT, machine, read_result, replace_block

DOC = ROOT / "docs" / "PERFORMANCE.md"
BLOCK = "python-api"
BEFORE = "a42d695"  # main just before the Python API (c4cac25)
FULL_SIZES = [("v2-112120", 112_120), ("v2-500000", 500_000)]
QUICK_SIZES = [("v2-3000", 3_000)]
RUNTIMES = ("web", "native")
QUERY = "bilateral pleural effusion with cardiomegaly"
BATCH = 1_000
REPEATS = 3
TARGETS = {"cli_s": 2.0, "batch_ms": 20.0}  # the issue's: one query at 112,120; a query of a batch


def log(s: str) -> None:
    print(f"[python-api] {s}", file=sys.stderr, flush=True)


def timed_cli(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, str]:
    """Wall time of one `python -m medmir.cli ...` and its stdout; a failure stops the benchmark with its stderr."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "medmir.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)  # fmt: skip
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"medmir {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return wall, done.stdout


def before_tree(work: Path) -> Path:
    """A git worktree of BEFORE (its web/ uses this checkout's node_modules, for its web runtime)."""
    tree = work / "before"
    if not (tree / "src" / "medmir" / "cli.py").is_file():
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(tree), BEFORE], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
    link = tree / "web" / "node_modules"
    if not link.exists():
        link.symlink_to(ROOT / "web" / "node_modules")
    return tree


def measure_before(tree: Path, bundle: Path, pack: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MEDMIR_TEXT_RUNTIME": "web"}
    probe = subprocess.run([sys.executable, "-c", "import medmir; print(medmir.__file__)"], env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert probe.stdout.strip().startswith(str(tree)), f"the BEFORE run imports {probe.stdout.strip()}"
    args = ["search", QUERY, "--bundle", str(bundle), "--model", str(pack), "--json", "--k", "10"]
    walls = [timed_cli(args, env, cwd=tree)[0] for _ in range(2)]
    return {"commit": BEFORE, "runtime": "web", "cli_s": [round(w, 2) for w in walls],
            "cli_median_s": round(statistics.median(walls), 2)}  # fmt: skip


def measure_now(bundle: Path, pack: Path, queries: Path, work: Path, runtime: str) -> dict[str, Any]:
    record = work / f"verified-{runtime}.json"
    record.unlink(missing_ok=True)  # the first call verifies bundle and pack, as after a rebuild
    env = {**os.environ, "MEDMIR_VERIFIED": str(record), "MEDMIR_TEXT_RUNTIME": runtime}
    one = ["search", QUERY, "--bundle", str(bundle), "--model", str(pack), "--json", "--k", "10"]
    first, out_first = timed_cli(one, env)
    repeats = [timed_cli(one, env) for _ in range(REPEATS)]
    assert all(out == out_first for _, out in repeats), "one query, the same answer every call"
    n = sum(1 for line in queries.read_text(encoding="utf-8").splitlines() if line.strip())
    out = work / f"results-{runtime}.jsonl"
    batch = ["search", "--queries", str(queries), "--out", str(out), "--bundle", str(bundle), "--model", str(pack),
             "--k", "10"]  # fmt: skip
    wall, _ = timed_cli(batch, env)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == n and all(len(r["results"]) == 10 for r in lines), "a full answer for every query"
    head = json.loads(out_first)
    same = next((r["results"] for r in lines if r["query"] == QUERY), None)
    return {
        "cli_first_s": round(first, 2),
        "cli_s": [round(w, 2) for w, _ in repeats],
        "cli_median_s": round(statistics.median(w for w, _ in repeats), 2),
        "batch_queries": n,
        "batch_s": round(wall, 2),
        "batch_ms": round(wall / n * 1000, 1),
        "batch_equals_one_query": same is None or [r["row"] for r in same] == [r["row"] for r in head],
    }


def measure(quick: bool, work: Path, pack: Path | None) -> dict[str, Any]:
    pack = pack or (scale.tiny_pack() if quick else scale.full_pack())
    sizes = QUICK_SIZES if quick else FULL_SIZES
    n = 20 if quick else BATCH
    # held-out phrases (never indexed: the bundles hold the first 500,000), plus the one-query figure's query
    phrases = [QUERY, *corpus.clinical_phrases(scale.HELD_OUT_START + n - 1)[scale.HELD_OUT_START :]]
    queries = work / "queries.txt"
    queries.parent.mkdir(parents=True, exist_ok=True)
    queries.write_text("\n".join(phrases) + "\n", encoding="utf-8")
    tree = None if quick else before_tree(work)
    model = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))["model"]
    pack_info = {"title": model["title"], "random_weights": bool(model.get("random_weights")),
                 "parameters": model.get("parameters")}  # fmt: skip
    out: dict[str, Any] = {"quick": quick, "pack": pack_info, "query": QUERY, "sizes": {}}
    cache: dict = {}
    for name, rows in sizes:
        bundle = scale.bundle(ROOT / "build" / "scale" if not quick else work / "scale", name, 2, rows, pack, quick,
                              cache)  # fmt: skip
        entry: dict[str, Any] = {"rows": rows}
        if tree is not None:
            log(f"{name}: the command before the API ({BEFORE})")
            entry["before"] = measure_before(tree, bundle, pack)
        for runtime in RUNTIMES:
            log(f"{name}: {runtime} runtime")
            entry[runtime] = measure_now(bundle, pack, queries, work, runtime)
        out["sizes"][name] = entry
    return out


def _pack(p: dict[str, Any]) -> str:
    weights = "random weights" if p["random_weights"] else "trained weights"
    return f"the {p['title']} pack ({weights}, {p['parameters']:,} parameters)"


def _mark(value: float, target: float) -> str:
    return " ✓" if value <= target else " ✗"


def render(r: dict[str, Any]) -> str:
    sizes = r["sizes"]
    names = list(sizes)
    head = "| figure | " + " | ".join(f"{sizes[n]['rows']:,} rows" for n in names) + " | target |"
    lines = [
        f"Measured {r['measured_at']} on {r['machine']['cpu']} ({r['machine']['cores']} cores), `python "
        f"benchmarks/python_api.py`: `medmir search` from the command line, process start included; "
        f"{_pack(r['pack'])}, version 2 bundles of benchmarks/scale.py; the batch is "
        f"{next(iter(sizes.values()))['web']['batch_queries']:,} clinical phrases that are not in the bundle "
        "(`--queries FILE --out F`). web: the site's onnxruntime-web (the browser's numbers on any CPU, the default "
        "where Node is installed); native: onnxruntime (`--text-runtime native`).",
        "",
        head,
        "|---|" + "---|" * len(names) + "---|",
    ]

    def row(label: str, cell: Any, target: str = "") -> None:
        lines.append(f"| {label} | " + " | ".join(cell(sizes[n], n) for n in names) + f" | {target} |")

    if all("before" in sizes[n] for n in names):
        row(f"one query, before the API ({BEFORE}; each call verifies and parses the whole bundle)",
            lambda s, n: f"{s['before']['cli_median_s']} s")  # fmt: skip
        row("1,000 queries before the API (1,000 calls; estimated from one)",
            lambda s, n: f"{s['before']['cli_median_s'] * 1000 / 3600:.1f} h")  # fmt: skip
    for rt in RUNTIMES:
        row(f"one query, {rt}, first call after the bundle changed (verifies bundle and pack)",
            lambda s, n, rt=rt: f"{s[rt]['cli_first_s']} s")  # fmt: skip
        row(f"one query, {rt} (median of {REPEATS} calls)",
            lambda s, n, rt=rt: f"{s[rt]['cli_median_s']} s"
            + (_mark(s[rt]["cli_median_s"], TARGETS["cli_s"]) if s["rows"] == 112_120 else ""),
            f"<= {TARGETS['cli_s']:g} s at 112,120")  # fmt: skip
        row(f"a query of a batch, {rt} (embedding included)",
            lambda s, n, rt=rt: f"{s[rt]['batch_ms']} ms" + _mark(s[rt]["batch_ms"], TARGETS["batch_ms"]),
            f"<= {TARGETS['batch_ms']:g} ms")  # fmt: skip
    if all("before" in sizes[n] for n in names):
        row("speed-up, one query (web) / a batch's query (web) over a call before",
            lambda s, n: f"{s['before']['cli_median_s'] / s['web']['cli_median_s']:.1f}x / "
            f"{s['before']['cli_median_s'] * 1000 / s['web']['batch_ms']:.0f}x")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: results/python_api.json)")
    ap.add_argument("--doc", type=Path, default=None, help="doc with the block (default: docs/PERFORMANCE.md)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: build/python-api)")
    ap.add_argument("--pack", type=Path, default=None)
    ap.add_argument("--render-only", action="store_true")
    a = ap.parse_args()
    out = a.out or (ROOT / "build" / "python-api-quick.json" if a.quick else RESULTS / "python_api.json")
    doc = a.doc or (ROOT / "build" / "python-api-quick.md" if a.quick else DOC)
    if not a.render_only:
        r = measure(a.quick, a.work or ROOT / "build" / ("python-api-quick" if a.quick else "python-api"), a.pack)
        import datetime as dt

        from medmir.core.fsutil import atomic_write_json

        r["measured_at"], r["machine"] = dt.date.today().isoformat(), machine()
        atomic_write_json(out, r)
    r = json.loads(out.read_text(encoding="utf-8")) if a.out or a.quick else read_result("python_api")
    if not doc.exists():
        doc.write_text(f"<!-- BEGIN generated:{BLOCK} -->\n<!-- END generated:{BLOCK} -->\n", encoding="utf-8")
    replace_block(doc, BLOCK, render(r))
    print(render(r))


if __name__ == "__main__":
    main()
