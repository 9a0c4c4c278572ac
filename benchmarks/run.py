"""The benchmark runner: every figure next to its baseline, measured side by side in one run, median and p95.

make bench         full run with the full-size random-weight BiomedCLIP pack (minutes)
make bench-quick   the same harness on the tiny model with few repeats: keeps it working, asserts no timing

Writes benchmarks/results/<date>-<machine>.json (quick runs: build/bench-quick.json) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.server
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import NOVEL_QUERIES, RESULTS, ROOT, machine

SHARED = ROOT.parent / "shared"
SAMPLE = SHARED / "data" / "nih-sample"
CONFIG = SHARED / "models" / "biomedclip"
WEB = ROOT / "web"
BROWSER = ROOT / "benchmarks" / "browser"
LIVE_QUERY = "small left apical pneumothorax with mediastinal shift"
TEXT_CASES = {"short": 6, "medium": 30, "long": 200}
# The user path: novel queries (none is a fallback query, so each runs the model), typed by a fast typist (about
# 200 words a minute: the least time the page gets to warm up before the first Enter), and images picked in the
# file chooser 2 s after the click on "Search with an image…".
USER_QUERIES = NOVEL_QUERIES
TYPE_DELAY_MS = 50
PICK_DELAY_MS = 2000


def stats(samples: list[float]) -> dict[str, Any]:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, max(0, int(np.ceil(0.95 * len(s))) - 1))]
    return {"runs": len(s), "median_ms": round(statistics.median(s), 3), "p95_ms": round(p95, 3)}


def timed(fn: Callable[[], object], runs: int, warmup: int = 1) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return stats(samples)


# -- Python ----------------------------------------------------------------------------------------------------


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    e = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def python_ranking(sizes: list[int], runs: int) -> list[dict[str, Any]]:
    from medmir.bundle.neighbors import top_k

    out = []
    for n in sizes:
        emb, q = unit_rows(n, 512, 1), unit_rows(1, 512, 2)[0]

        def ours(emb: np.ndarray = emb, q: np.ndarray = q) -> list[int]:
            return top_k(emb @ q, 10).tolist()

        def plain(emb: np.ndarray = emb, q: np.ndarray = q, n: int = n) -> list[int]:
            scores = [float(np.dot(row, q)) for row in emb]
            return sorted(range(n), key=lambda i: (-scores[i], i))[:10]

        assert ours() == plain(), f"ranking disagrees at n={n}"
        a, b = timed(ours, runs), timed(plain, max(1, runs // 3 if n > 50_000 else runs))
        out.append(
            {
                "n": n,
                "dim": 512,
                "ours": a,
                "plain_loop_full_sort": b,
                "speedup": round(b["median_ms"] / a["median_ms"], 1),
            }
        )
    return out


def python_query(bundle: Path, pack_dir: Path, runs: int) -> dict[str, Any]:
    from medmir.api import Collection
    from medmir.bundle.read import Bundle
    from medmir.model.pack import ModelPack

    col = Collection(Bundle.open(bundle), ModelPack.open(pack_dir))
    inproc = {
        name: timed(lambda q=q: col.search(q, 10), runs)
        for name, q in (("short", "pleural effusion right"), ("medium", LIVE_QUERY))
    }
    cmd = [
        sys.executable,
        "-m",
        "medmir.cli",
        "search",
        LIVE_QUERY,
        "--bundle",
        str(bundle),
        "--model",
        str(pack_dir),
        "--json",
    ]
    cli = timed(lambda: subprocess.run(cmd, check=True, capture_output=True), max(1, runs // 5), warmup=0)
    return {"in_process": inproc, "cli_wall": cli}


def evaluate_wall(bundle: Path, pack_dir: Path, runs: int) -> dict[str, Any]:
    from medmir.evaluate.run import evaluate

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "b"
        shutil.copytree(bundle, copy)
        return timed(lambda: evaluate(copy, pack_dir, report=False), runs, warmup=0)


def index_rates(pack_dir: Path, n: int) -> dict[str, Any]:
    from benchmarks.index_cpu import decode_rate
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index
    from medmir.model.pack import ModelPack

    names = sorted(p.name for p in (SAMPLE / "images").iterdir())[:n]
    with tempfile.TemporaryDirectory(dir=ROOT / "build") as tmp:
        src = Path(tmp) / "images"
        src.mkdir()
        for name in names:
            shutil.copyfile(SAMPLE / "images" / name, src / name)
        (Path(tmp) / "labels.csv").write_text("filename,labels\n" + "".join(f"{x},X\n" for x in names))
        decode = decode_rate([src / x for x in names], ModelPack.open(pack_dir).preprocess)
        rates = {}
        for prec in ("fp32", "int8"):
            rep = build_index(IndexOptions(src, Path(tmp) / "labels.csv", pack_dir, Path(tmp) / prec, precision=prec))
            rates[prec] = rep.embedded / rep.embed_seconds
    return {
        "images": n,
        "decode_only_images_per_s": round(decode, 2),
        **{f"{p}_images_per_s": round(r, 2) for p, r in rates.items()},
        **{f"{p}_share_of_decode_bound": round(r / decode, 3) for p, r in rates.items()},
    }


# -- browser ---------------------------------------------------------------------------------------------------


class CountingServer:
    """medmir serve's handler, counting the bytes it sends (headers and bodies): a visit's payload, at the server.

    A repeat visit revalidates the small files (304 Not Modified, headers only) and reads the large ones from
    Cache Storage.
    """

    def __init__(self, root: Path):
        from medmir.site.serve import SiteHandler

        counter = self
        self.bytes = 0

        class Handler(SiteHandler):
            def __init__(self, *a: Any, **k: Any) -> None:
                super().__init__(*a, directory=str(root), timeout=30.0, **k)

            def flush_headers(self) -> None:
                counter.bytes += sum(len(h) for h in getattr(self, "_headers_buffer", []))
                super().flush_headers()

            def copyfile(self, source: Any, outputfile: Any) -> None:
                data = source.read()
                counter.bytes += len(data)
                # the browser may go away at the end of a visit: nothing left to serve then
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    outputfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _node(*args: str, timeout: int = 1800) -> dict[str, Any]:
    proc = subprocess.run(["node", str(BROWSER / "run.mjs"), *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"browser benchmark failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def serving(site: Path, *, isolated: bool) -> Iterator[str]:
    """`medmir serve SITE` (COOP/COEP: cross-origin isolated, WASM threads), or a plain static server without them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if isolated:
        cmd = [sys.executable, "-m", "medmir.cli", "serve", str(site), "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{cmd[2:4]} did not start")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _node_json(script: Path, cfg: dict[str, Any], timeout: int = 1800) -> dict[str, Any]:
    proc = subprocess.run(
        ["node", str(script), json.dumps(cfg)], capture_output=True, text=True, timeout=timeout, cwd=WEB
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def user_path_summary(up: dict[str, Any]) -> list[dict[str, Any]]:
    """First query and median of the next ones, each against the floor of the same input measured right after it."""
    rows = []
    for server, visits in up["servers"].items():
        for n, v in enumerate(visits, 1):
            for path in ("text", "image"):
                runs = v[path]
                if not runs:
                    continue
                first, rest = runs[0], runs[1:] or runs[:1]

                def ratio(x: dict[str, Any], key: str) -> float:
                    return x["embed_ms"] / x[key]

                rows.append(
                    {
                        "server": server,
                        "visit": n,
                        "path": path,
                        "threads": v["threads"],
                        "thread_reason": v["thread_reason"],
                        "first_ms": round(first["embed_ms"], 1),
                        "next_median_ms": round(statistics.median(x["embed_ms"] for x in rest), 1),
                        "next_count": len(rest),
                        "floor_first_ms": round(first["floor_ms"], 1),
                        "floor_next_median_ms": round(statistics.median(x["floor_ms"] for x in rest), 1),
                        "first_ratio": round(ratio(first, "floor_ms"), 2),
                        # per query against its own floor (token counts differ), then the median
                        "next_ratio": round(statistics.median(ratio(x, "floor_ms") for x in rest), 2),
                        "floor_idle_first_ms": round(first["floor_after_idle_ms"], 1),
                        "floor_idle_next_median_ms": round(
                            statistics.median(x["floor_after_idle_ms"] for x in rest), 1
                        ),
                        "first_ratio_idle": round(ratio(first, "floor_after_idle_ms"), 2),
                        "next_ratio_idle": round(statistics.median(ratio(x, "floor_after_idle_ms") for x in rest), 2),
                        "first_wall_ms": round(first["wall_ms"]),
                        "next_wall_median_ms": round(statistics.median(x["wall_ms"] for x in rest)),
                        "first_warm": first["warm"],
                    }
                )
    return rows


def user_path(site: Path, pack_dir: Path, *, quick: bool) -> dict[str, Any]:
    """The site as a user meets it, each query next to the WASM floor of the same input (benchmarks/browser/floor.mjs:
    the same INT8 models, 1 thread, warm, in Node), measured right after it: this machine's load changes by the
    minute, so the floor is paired in time with what it is compared to.

    `medmir serve` gets three visits on one browser profile: the first visit's 1 thread, then the thread-count
    calibration at work (visit 2 measures the next count, visit 3 uses the faster); the plain server allows 1 thread.
    """
    queries = USER_QUERIES[:2] if quick else USER_QUERIES
    images = [str(p) for p in sorted((SAMPLE / "images").glob("*.png"))[: 1 if quick else len(queries)]]
    floor = {"pack": str(pack_dir), "runs": 2 if quick else 3, "warmup": 2 if quick else 20}
    visit = {
        "queries": queries,
        "images": images,
        "typeDelayMs": TYPE_DELAY_MS,
        "pickDelayMs": PICK_DELAY_MS,
        "floor": floor,
    }
    servers: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as profile, serving(site, isolated=True) as url:
        cfg = {**visit, "url": url, "userDataDir": profile}
        servers["medmir serve"] = [_node_json(BROWSER / "userpath.mjs", cfg) for _ in range(1 if quick else 3)]
    with serving(site, isolated=False) as url:
        servers["static server"] = [_node_json(BROWSER / "userpath.mjs", {**visit, "url": url})]
    up: dict[str, Any] = {
        "config": {
            **{k: v for k, v in visit.items() if k not in ("images", "floor")},
            "images": [Path(p).name for p in images],
            "floor": {**floor, "pack": Path(pack_dir).name, "threads": 1},
        },
        "floor_runtime": servers["medmir serve"][0]["floor_runtime"],
        "servers": servers,
    }
    up["summary"] = user_path_summary(up)
    return up


def _bench_page(site: Path, pack_dir: Path, with_fp32: bool) -> None:
    """bench.html + its modules beside the site, with the text models whole (the site may publish them in parts);
    the FP32 text model only for the comparison."""
    dst = site / "bench"
    dst.mkdir(exist_ok=True)
    for f in ("bench.html", "bench.mjs"):
        shutil.copyfile(BROWSER / f, dst / f)
    shutil.copyfile(WEB / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.mjs", dst / "ort.wasm.min.mjs")
    for folder, module in (("rank", "ranking"), ("model", "onnxWeights")):  # the site's own code, as its worker runs it
        subprocess.run(
            [
                "node",
                "-e",
                "require('esbuild').buildSync({entryPoints:[process.argv[1]],bundle:true,format:'esm',"
                "outfile:process.argv[2]})",
                str(WEB / "src" / "worker" / folder / f"{module}.ts"),
                str(dst / f"{module}.mjs"),
            ],
            cwd=WEB,
            check=True,
        )
    for name in ("text.int8.onnx", *(("text.onnx",) if with_fp32 else ())):
        shutil.copyfile(pack_dir / name, dst / name)


def browser(site: Path, pack_dir: Path, *, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _bench_page(site, pack_dir, with_fp32=True)
    server = CountingServer(site)
    try:
        with tempfile.TemporaryDirectory() as profile:
            start = server.bytes
            first = _node("visit", server.url, profile, LIVE_QUERY)
            first["bytes"] = server.bytes - start
            start = server.bytes
            repeat = _node("visit", server.url, profile, LIVE_QUERY)
            repeat["bytes"] = server.bytes - start
        out["cold_start"] = {"first_visit": first, "repeat_visit_with_cache": repeat}
        int8 = [{"case": k, "tokens": v, "pad_to": v} for k, v in TEXT_CASES.items()]
        cfg = {
            "threads": [1] if quick else [1, 2],
            "runs": 3 if quick else 15,
            "warmup": 1 if quick else 3,
            "ranking_sizes": [233, 2000] if quick else [233, 10_000, 112_120],
            "ranking_runs": 3 if quick else 15,
            "tier_up": {"tokens": 12, "runs": 5 if quick else 40},
            "models": [
                {"name": "int8, real token count", "url": "text.int8.onnx", "cases": int8},
                {
                    "name": "int8, graph optimisation 'all'",
                    "url": "text.int8.onnx",
                    "level": "all",
                    "cases": [{"case": "short", "tokens": TEXT_CASES["short"], "pad_to": TEXT_CASES["short"]}],
                },
                {
                    "name": "fp32, padded to 256 (seed)",
                    "url": "text.onnx",
                    "cases": [{"case": "short", "tokens": TEXT_CASES["short"], "pad_to": 256}],
                },
                {
                    "name": "fp32, padded to 77",
                    "url": "text.onnx",
                    "cases": [{"case": "short", "tokens": TEXT_CASES["short"], "pad_to": 77}],
                },
            ],
        }
        micro = _node("micro", server.url + "bench/bench.html", json.dumps(cfg))
        out.update(micro)
    finally:
        server.close()
    return out


# -- the run ---------------------------------------------------------------------------------------------------


def prepare(quick: bool, work: Path) -> tuple[Path, Path, Path]:
    """A pack, a bundle of the NIH sample and its site (reused from build/ when they check out)."""
    from medmir.cli.pipeline import build
    from medmir.model.checkpoint import init_random
    from medmir.model.export import export_pack
    from medmir.model.manifest import reusable

    if quick:
        pack = work / "pack-tiny"
        if not reusable(pack):
            init_random(CONFIG, work / "ckpt-tiny", size="tiny")
            export_pack(str(work / "ckpt-tiny"), pack, log=lambda s: None)
        res = build(SAMPLE, str(pack), work / "quick", per_label=2, app=WEB / "dist", log=lambda s: None)
    else:
        res = build(
            SAMPLE,
            "random-biomedclip",
            ROOT / "build" / "demo",
            per_label=100,
            model_config=CONFIG,
            app=WEB / "dist",
            log=print,
        )
    assert res.site is not None
    return res.pack, res.bundle, res.site


def run(quick: bool) -> dict[str, Any]:
    work = ROOT / "build" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    pack, bundle, site = prepare(quick, work)
    r = 3 if quick else 20
    result: dict[str, Any] = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "pack": {
            "path": str(pack.relative_to(ROOT)) if pack.is_relative_to(ROOT) else str(pack),
            "random_weights": True,
        },
        "python_ranking": python_ranking([233, 2000] if quick else [233, 10_000, 112_120], r),
        "python_query": python_query(bundle, pack, r),
        "evaluate_wall": evaluate_wall(bundle, pack, 1 if quick else 3),
        "index_cpu": index_rates(pack, 4 if quick else 400),
        "user_path": user_path(site, pack, quick=quick),
        "browser": browser(site, pack, quick=quick),
    }
    return result


def headline(r: dict[str, Any]) -> dict[str, Any]:
    """The ratios the README quotes, computed from the results (never typed)."""
    b = r["browser"]
    text = {(t["model"], t["case"], t["threads"]): t for t in b["text"]}
    t1 = min(t["threads"] for t in b["text"])
    short = text[("int8, real token count", "short", t1)]["median_ms"]
    pad256 = text[("fp32, padded to 256 (seed)", "short", t1)]["median_ms"]
    big = max(b["ranking"], key=lambda x: x["n"])
    rows = {(x["server"], x["visit"], x["path"]): x for x in r["user_path"]["summary"]}
    text, image = rows[("medmir serve", 1, "text")], rows[("medmir serve", 1, "image")]
    static = rows[("static server", 1, "text")]
    # the last visit: the thread count this device measured fastest (the calibration), when the run made one
    last = max(
        (x for x in rows.values() if x["server"] == "medmir serve" and x["path"] == "text"), key=lambda x: x["visit"]
    )
    return {
        "user_last_visit": last["visit"],
        "user_last_threads": last["threads"],
        "user_last_first_ratio": last["first_ratio"],
        "user_last_next_ratio": last["next_ratio"],
        "user_text_first_ms": text["first_ms"],
        "user_text_next_ms": text["next_median_ms"],
        "user_text_next_count": text["next_count"],
        "user_text_floor_ms": text["floor_next_median_ms"],
        "user_text_first_ratio": text["first_ratio"],
        "user_text_next_ratio": text["next_ratio"],
        "user_text_static_first_ratio": static["first_ratio"],
        "user_text_static_next_ratio": static["next_ratio"],
        "user_image_first_ms": image["first_ms"],
        "user_image_next_ms": image["next_median_ms"],
        "user_image_floor_ms": image["floor_next_median_ms"],
        "user_image_first_ratio": image["first_ratio"],
        "user_image_next_ratio": image["next_ratio"],
        "user_threads": text["threads"],
        "short_query_int8_ms": round(short, 1),
        "speedup_vs_fp32_padded_256": round(pad256 / short, 1),
        "cold_start_with_cache_ms": b["cold_start"]["repeat_visit_with_cache"]["first_live_result_ms"],
        "first_visit_mb": round(b["cold_start"]["first_visit"]["bytes"] / 1e6, 1),
        "repeat_visit_kb": round(b["cold_start"]["repeat_visit_with_cache"]["bytes"] / 1e3, 1),
        "ranking_n": big["n"],
        "ranking_browser_ms": round(big["ours"]["median_ms"], 1),
        "ranking_speedup_vs_plain": round(big["plain_loop_full_sort"]["median_ms"] / big["ours"]["median_ms"], 1),
    }


def user_path_table(r: dict[str, Any]) -> str:
    lines = [
        "| server, visit (WASM threads: why) | path | first query | median of the next | WASM floor, first / next "
        "| ratio to the floor, first / next | floor after idle, first / next | ratio to it | wall, first / next |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for x in r["user_path"]["summary"]:
        lines.append(
            f"| {x['server']}, visit {x['visit']} ({x['threads']}: {x['thread_reason']}) | {x['path']} "
            f"| {x['first_ms']:.1f} ms | {x['next_median_ms']:.1f} ms ({x['next_count']}) "
            f"| {x['floor_first_ms']:.1f} / {x['floor_next_median_ms']:.1f} ms "
            f"| **{x['first_ratio']:.2f}x / {x['next_ratio']:.2f}x** "
            f"| {x['floor_idle_first_ms']:.1f} / {x['floor_idle_next_median_ms']:.1f} ms "
            f"| {x['first_ratio_idle']:.2f}x / {x['next_ratio_idle']:.2f}x "
            f"| {x['first_wall_ms']:.0f} / {x['next_wall_median_ms']:.0f} ms |"
        )
    return "\n".join(lines)


def table(r: dict[str, Any]) -> str:
    b = r["browser"]
    lines = ["| figure | ours | baseline | ratio |", "|---|---|---|---|"]
    for t in b["text"]:
        if t["model"] == "int8, real token count":
            lines.append(
                f"| kernel: text model run, {t['case']} ({t['tokens']} tokens), {t['threads']} thread(s) "
                f"| {t['median_ms']:.1f} ms (p95 {t['p95_ms']:.1f}) | | |"
            )
    base = {(t["model"], t["threads"]): t for t in b["text"] if t["model"] != "int8, real token count"}
    for (model, threads), t in base.items():
        ours = next(
            x
            for x in b["text"]
            if x["model"] == "int8, real token count" and x["case"] == "short" and x["threads"] == threads
        )
        lines.append(
            f"| kernel: short text run vs {model}, {threads} thread(s) | {ours['median_ms']:.1f} ms "
            f"(session {ours['session_create_ms']:.0f} ms) | {t['median_ms']:.1f} ms (session "
            f"{t['session_create_ms']:.0f} ms) | {t['median_ms'] / ours['median_ms']:.1f}x |"
        )
    for t in b.get("tier_up", []):
        xs = t["samples_ms"]
        last = statistics.median(xs[-10:])
        settled = next(i for i in range(len(xs)) if statistics.median(xs[i : i + 5]) <= 1.2 * last) + 1
        lines.append(
            f"| kernel: text model ({t['tokens']} tokens), the first {len(xs)} runs of a new page, {t['threads']} "
            f"thread(s) | first run {xs[0]:.1f} ms, runs 2-{min(10, len(xs))} {statistics.median(xs[1:10]):.1f} ms, "
            f"from run "
            f"{settled} within 1.2x of the last 10 ({last:.1f} ms) | | {xs[0] / last:.1f}x (first / warm) |"
        )
    for x in b["ranking"]:
        ours, plain, js = (x[k]["median_ms"] for k in ("ours", "plain_loop_full_sort", "js_loop_partial_top_k"))
        lines.append(
            f"| kernel: browser ranking top-10 of {x['n']:,} x 512 ({x['kernel']}) | {ours:.2f} ms "
            f"| {plain:.2f} ms (plain loop + sort); JS loop + heap {js:.2f} ms | {plain / ours:.1f}x |"
        )
    for x in r["python_ranking"]:
        lines.append(
            f"| Python ranking top-10 of {x['n']:,} x 512 | {x['ours']['median_ms']:.2f} ms "
            f"| {x['plain_loop_full_sort']['median_ms']:.2f} ms (plain loop + sort) | {x['speedup']}x |"
        )
    cs = b["cold_start"]
    first, again = cs["first_visit"], cs["repeat_visit_with_cache"]
    q, ix = r["python_query"], r["index_cpu"]
    lines += [
        f"| first live result after page load, repeat visit (cache) | {again['first_live_result_ms']} ms "
        f"| {first['first_live_result_ms']} ms (first visit) | |",
        f"| payload | {again['bytes'] / 1e3:.1f} kB (repeat) | {first['bytes'] / 1e6:.1f} MB (first) | |",
        f"| `medmir search` in process (medium query) | {q['in_process']['medium']['median_ms']:.1f} ms "
        f"| {q['cli_wall']['median_ms']:.0f} ms (CLI wall, incl. start-up) | |",
        f"| `medmir evaluate` wall | {r['evaluate_wall']['median_ms'] / 1000:.1f} s | | |",
        f"| `medmir index` images/s, FP32 / INT8 vision | {ix['fp32_images_per_s']} / {ix['int8_images_per_s']} "
        f"| {ix['decode_only_images_per_s']} (decode only) | |",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    r = run(args.quick)
    r["headline"] = headline(r)
    if args.quick:
        out = ROOT / "build" / "bench-quick.json"
    else:
        out = RESULTS / f"{dt.date.today().isoformat()}-{platform.node() or 'machine'}.json"
    from medmir.core.fsutil import atomic_write_json

    atomic_write_json(out, r)
    print(user_path_table(r))
    print()
    print(table(r))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
