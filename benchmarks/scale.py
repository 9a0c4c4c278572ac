"""The full NIH collection in the browser: bundle format version 1 (today's) against version 2, side by side in one
run, at 112,120 rows (both, made from the same embeddings) and at 500,000 rows (version 2 only: version 1 would be
500,000 thumbnail files and 1 GB of float32 embeddings).

Each bundle: `benchmarks/synthetic.py` (the real NIH label rows, one small real WebP thumbnail a row, the full-size
random-weight BiomedCLIP pack), with structured embeddings: MiniLM clinical phrases lifted to 512-d
(`benchmarks/corpus.py`, cached in build/corpus/). Each site (`medmir site`) is served by a counting server (medmir's
own SiteHandler, counting every byte it writes, per request, with the time of each write) and visited in headless
Chromium twice, on a fresh profile (first visit) and on the same profile again (repeat visit), by
`benchmarks/browser/scale.mjs`: a novel query typed as soon as the search box exists, six typed once the page is
ready, then ten once every row is in; then the memory of the page's renderer processes. Recall@10 is computed here:
the page's top 10 against exact float32 ranking of the source embeddings for the query embedding the page reports,
and the bundle's own ranking (int8 for version 2) for MiniLM held-out phrases as queries.

Run: make scale-bench   (writes benchmarks/results/scale.json and the table in docs/PERFORMANCE.md)
     python benchmarks/scale.py --quick --out /tmp/scale.json --doc /tmp/doc.md --work /tmp/scale
        (3,000 rows, both formats, the tiny pack, one query of each kind: keeps the harness working, asserts nothing)
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import http.server
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus
from benchmarks.report import NOVEL_QUERIES, RESULTS, ROOT, machine, replace_block

DOC = ROOT / "docs" / "PERFORMANCE.md"
BLOCK = "scale"
WEB = ROOT / "web"
SCRIPT = ROOT / "benchmarks" / "browser" / "scale.mjs"
FULL_PACK = ROOT / "build" / "demo" / "work" / "random-biomedclip" / "pack"
TINY_PACK = ROOT / "build" / "bench" / "pack-tiny"
CONFIG = ROOT.parent / "shared" / "models" / "biomedclip"
CONTROL = "/__scale/count"
K = 10
TYPE_DELAY_MS = 50  # a fast typist, as benchmarks/run.py's user path
# (name, bundle format version, rows)
FULL_SITES = [("v1-112120", 1, 112_120), ("v2-112120", 2, 112_120), ("v2-500000", 2, 500_000)]
QUICK_SITES = [("v1-3000", 1, 3_000), ("v2-3000", 2, 3_000)]
# Novel queries (never a precomputed fallback: each runs the text model); the short ones for the warm short figure.
FIRST_QUERY = "faint reticular haze over the left hemidiaphragm"
AFTER_READY = NOVEL_QUERIES
SHORT_QUERIES = ["hazy left base", "right hilar fullness", "tiny apical bleb", "patchy retrocardiac haze"]
RANKED = [
    *SHORT_QUERIES,
    "streaky linear opacity at the right lung base",
    "widened mediastinum after a motor vehicle collision",
    "calcified granuloma in the left mid lung",
    "subsegmental atelectasis with low lung volumes",
    "lucent band along the right chest wall",
    "feeding tube coiled in the gastric fundus",
]
HELD_OUT_START = 500_000  # MiniLM query phrases: right after the largest indexed set, never indexed
HELD_OUT_QUERIES = 200
TARGETS = {
    "first_visit_mb_until_ready": {112_120: 140, 500_000: 200},
    "repeat_visit_mb_total": 3,
    "first_live_result_s_first": 4,
    "first_live_result_s_repeat": 1.5,
    "after_ready_ratio": 2,
    "warm_short_embed_ms": 40,
    "rank_ms": {112_120: 15, 500_000: 60},
    "recall_page": {112_120: 0.99, 500_000: 0.95},
    "recall_held_out": {112_120: 0.99, 500_000: 0.95},
    "page_pss_gb": 0.6,
    "site_files": 20_000,
    "largest_file_mb": 25,
    "refetched_files": 0,
}


def log(s: str) -> None:
    print(s, flush=True)


# -- bundles and sites -----------------------------------------------------------------------------------------


def describe(dim: int, quick: bool) -> str:
    if quick:
        return f"random unit vectors (N x {dim})"
    return f"MiniLM clinical phrases (N x 384, lifted to {dim}; benchmarks/corpus.py)"


def source(rows: int, dim: int, quick: bool, cache: dict[int, np.ndarray]) -> np.ndarray:
    """The rows' float32 unit embeddings (one size kept at a time): the MiniLM clinical-phrase set lifted to `dim`
    (full), random unit vectors (quick: the tiny pack is 64-d, and no dependence on the MiniLM cache)."""
    if rows not in cache:
        cache.clear()
        cache[rows] = corpus.random_unit(rows, dim, seed=3) if quick else corpus.structured(rows, dim)
    return cache[rows]


def tiny_pack() -> Path:
    from medmir.model.checkpoint import init_random
    from medmir.model.export import export_pack
    from medmir.model.manifest import reusable

    if not reusable(TINY_PACK):
        init_random(CONFIG, TINY_PACK.parent / "ckpt-tiny", size="tiny")
        export_pack(str(TINY_PACK.parent / "ckpt-tiny"), TINY_PACK, log=lambda s: None)
    return TINY_PACK


def full_pack() -> Path:
    """The full-size random-weight BiomedCLIP pack that `make bench` builds into build/demo (built here if absent)."""
    if not (FULL_PACK / "manifest.json").is_file():
        from medmir.cli.pipeline import random_pack

        return Path(random_pack(FULL_PACK.parents[1], CONFIG, log))
    return FULL_PACK


def bundle(work: Path, name: str, version: int, rows: int, pack: Path, quick: bool, cache: dict) -> Path:
    """build/scale/NAME, reused while its stamp (rows, version, embeddings, pack) matches."""
    from benchmarks.synthetic import make_bundle
    from medmir.model.pack import ModelPack

    out = work / "bundles" / name
    dim = ModelPack.open(pack, verify=False).embed_dim
    emb_kind = "random" if quick else "minilm-lift"
    stamp = {"rows": rows, "version": version, "embeddings": emb_kind, "dim": dim,
             "pack": json.loads((pack / "manifest.json").read_text())["model"]["checkpoint_sha256"]}  # fmt: skip
    stamp_file = work / "bundles" / f"{name}.stamp.json"
    if (out / "index_info.json").is_file() and stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        log(f"{name}: reusing {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
        return out
    emb = source(rows, dim, quick, cache)
    log(f"{name}: writing a version {version} bundle of {rows:,} rows")
    t = time.perf_counter()
    stamp_file.unlink(missing_ok=True)
    make_bundle(out, rows, pack_dir=pack, version=version, embeddings=emb)
    stamp_file.write_text(json.dumps(stamp))
    log(f"{name}: written in {time.perf_counter() - t:.0f} s")
    return out


def snapshot_app(work: Path) -> Path:
    """A copy of the built web app (web/dist), so that every site of one run has the same app even while the app
    is rebuilt meanwhile."""
    if not (WEB / "dist" / "index.html").is_file():
        raise SystemExit("web/dist is not built: npm --prefix web run build")
    app = work / "app"
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(WEB / "dist", app)
    return app


def build_site(bundle_dir: Path, pack: Path, out: Path, app: Path) -> None:
    """`medmir site`, in a process of its own (the command as a user runs it); raises with its message."""
    cmd = [sys.executable, "-m", "medmir.cli", "site", "--bundle", str(bundle_dir), "--model", str(pack),
           "--out", str(out), "--app", str(app), "--force"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"medmir site failed: {(done.stderr or done.stdout).strip()[-2000:]}")


def site_stats(site: Path) -> dict[str, Any]:
    files = [p for p in site.rglob("*") if p.is_file()]
    sizes = {p.relative_to(site).as_posix(): p.stat().st_size for p in files}
    big = max(sizes, key=lambda p: sizes[p])
    data = {p: s for p, s in sizes.items() if p.startswith("data/")}
    big_data = max(data, key=lambda p: data[p]) if data else None
    return {
        "files": len(files),
        "data_files": len(data),
        "total_mb": round(sum(sizes.values()) / 1e6, 1),
        "largest_file": big,
        "largest_mb": round(sizes[big] / 1e6, 2),
        "largest_data_file": big_data,
        "largest_data_mb": round(data[big_data] / 1e6, 2) if big_data else None,
    }


# -- the counting server ---------------------------------------------------------------------------------------


class _CountingWriter:
    """The handler's wfile: every byte written to the socket (headers and bodies) counted, with its time."""

    def __init__(self, raw: Any, server: CountingServer, handler: Any) -> None:
        self.raw, self.server, self.handler = raw, server, handler

    def write(self, data: bytes) -> int:
        n = self.raw.write(data)
        self.handler.sent += len(data)
        self.server.add(len(data), getattr(self.handler, "path", ""))
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class CountingServer:
    """medmir's SiteHandler (as `medmir serve` runs it, Range answered if it answers Range), counting the bytes it
    sends, per request (path, Range header, status) and over time (to read the count at any moment of a visit).
    CONTROL answers the count itself, for the visit script, uncounted."""

    def __init__(self, root: Path) -> None:
        from medmir.site.serve import SiteHandler

        srv = self
        self.lock = threading.Lock()
        self.inflight = 0
        self.open: dict[int, str] = {}
        self.reset()

        class Handler(SiteHandler):
            def __init__(self, *a: Any, **k: Any) -> None:
                super().__init__(*a, directory=str(root), timeout=30.0, **k)

            def setup(self) -> None:
                super().setup()
                self.sent = 0
                self.wfile = _CountingWriter(self.wfile, srv, self)

            def send_response(self, code: int, message: str | None = None) -> None:
                self.status = code
                super().send_response(code, message)

            def _counted(self, method: Any) -> None:
                if self.path.startswith(CONTROL):
                    return self._control()
                before, self.status, t0 = self.sent, None, time.time()
                with srv.lock:
                    srv.inflight += 1
                    srv.open[id(self)] = self.path
                try:
                    with contextlib.suppress(ConnectionError, TimeoutError):
                        method()
                finally:
                    with srv.lock:
                        srv.inflight -= 1
                        srv.open.pop(id(self), None)
                        srv.requests.append({"path": self.path.split("?", 1)[0], "method": self.command,
                                             "range": self.headers.get("Range"), "status": self.status,
                                             "bytes": self.sent - before, "t0": t0, "t1": time.time()})  # fmt: skip

            def do_GET(self) -> None:
                self._counted(super().do_GET)

            def do_HEAD(self) -> None:
                self._counted(super().do_HEAD)

            def _control(self) -> None:
                with srv.lock:
                    state = {"bytes": srv.total, "inflight": srv.inflight, "open": sorted(srv.open.values()),
                             "idle_ms": (time.time() - srv.last) * 1000}  # fmt: skip
                body = json.dumps(state).encode()
                self.wfile = self.wfile.raw  # uncounted
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reset(self) -> None:
        """A new visit: the counts start again (the requests in flight stay counted as such)."""
        with self.lock:
            self.total, self.last = 0, time.time()
            self.times: list[float] = []
            self.cumulative: list[int] = []
            self.paths: list[str] = []
            self.requests: list[dict[str, Any]] = []

    def add(self, n: int, path: str) -> None:
        with self.lock:
            self.total += n
            self.last = time.time()
            self.times.append(self.last)
            self.cumulative.append(self.total)
            self.paths.append(path.split("?", 1)[0])

    def bytes_at(self, epoch_s: float) -> int:
        """Bytes sent up to this moment (epoch seconds)."""
        with self.lock:
            i = bisect.bisect_right(self.times, epoch_s)
            return self.cumulative[i - 1] if i else 0

    def kinds_at(self, epoch_s: float) -> dict[str, int]:
        """Bytes sent up to this moment by kind of file: data/ (the bundle), model/, the app (everything else)."""
        out = {"data": 0, "model": 0, "app": 0}
        with self.lock:
            i = bisect.bisect_right(self.times, epoch_s)
            prev = 0
            for j in range(i):
                n, prev = self.cumulative[j] - prev, self.cumulative[j]
                p = self.paths[j]
                out["data" if p.startswith("/data/") else "model" if p.startswith("/model/") else "app"] += n
        return out

    def range_supported(self) -> bool:
        req = urllib.request.Request(self.url + "index.html", headers={"Range": "bytes=0-9"})
        with urllib.request.urlopen(req) as res:
            ok = res.status == 206 and len(res.read()) == 10
        for _ in range(100):  # the handler's own bookkeeping after the last byte
            if self.inflight == 0:
                break
            time.sleep(0.05)
        self.reset()
        return ok

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fetch_summary(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Whole-file fetches per path (a path fetched twice is a refetch), Range requests apart, revalidations."""
    whole: dict[str, int] = {}
    ranges: dict[str, int] = {}
    for r in requests:
        if r["range"]:
            key = f"{r['path']} {r['range']}"
            ranges[key] = ranges.get(key, 0) + 1
        elif r["status"] == 200:
            whole[r["path"]] = whole.get(r["path"], 0) + 1
    return {
        "requests": len(requests),
        "whole_file_fetches": sum(whole.values()),
        "files_fetched": len(whole),
        "refetched": {p: n for p, n in sorted(whole.items()) if n > 1},
        "range_requests": sum(ranges.values()),
        "range_answered_206": sum(1 for r in requests if r["range"] and r["status"] == 206),
        "ranges_repeated": {p: n for p, n in sorted(ranges.items()) if n > 1},
        "not_modified": sum(1 for r in requests if r["status"] == 304),
        "errors": [f"{r['status']} {r['path']}" for r in requests if (r["status"] or 0) >= 400],
    }


# -- visits ----------------------------------------------------------------------------------------------------


def visit(server: CountingServer, profile: Path, quick: bool, timeout_s: int) -> dict[str, Any]:
    cfg = {
        "url": server.url,
        "control": server.url.rstrip("/") + CONTROL,
        "userDataDir": str(profile),
        "first": FIRST_QUERY,
        "afterReady": AFTER_READY[:2] if quick else AFTER_READY,
        "ranked": RANKED[:1] if quick else RANKED,
        "typeDelayMs": 0 if quick else TYPE_DELAY_MS,
        "timeoutMs": timeout_s * 1000,
    }
    server.reset()
    cmd = ["node", str(SCRIPT), json.dumps(cfg)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 120, cwd=WEB)
    if done.returncode != 0:
        raise RuntimeError(f"scale.mjs failed: {done.stderr.strip()[-3000:]}")
    v = json.loads(done.stdout.strip().splitlines()[-1])
    origin = v["time_origin_epoch_ms"] / 1000
    v["bytes_until_ready"] = server.bytes_at(origin + v["ready_ms"] / 1000)
    v["bytes_until_ready_by_kind"] = server.kinds_at(origin + v["ready_ms"] / 1000)
    v["bytes_until_first_result"] = server.bytes_at(origin + v["first"]["at_ms"] / 1000)
    v["bytes_until_all_loaded"] = server.bytes_at(origin + v["all_loaded_ms"] / 1000)
    v["bytes_total"] = server.total
    v["fetches"] = fetch_summary(server.requests)
    by_path: dict[str, int] = {}
    for r in server.requests:
        by_path[r["path"]] = by_path.get(r["path"], 0) + r["bytes"]
    v["largest_transfers"] = dict(sorted(by_path.items(), key=lambda x: -x[1])[:8])
    return v


def queries_of(v: dict[str, Any]) -> list[dict[str, Any]]:
    return [v["first"], *v["after_ready"], *v["ranked"]]


def visit_summary(v: dict[str, Any]) -> dict[str, Any]:
    after = v["after_ready"]
    ranked = [q for q in v["ranked"] if q["path"] == "live" and q["partial"] is None]
    short = [q["embed_ms"] for q in ranked if q["query"] in SHORT_QUERIES]
    first_after = after[0]["embed_ms"] if after else None
    next_after = statistics.median(q["embed_ms"] for q in after[1:6]) if len(after) > 1 else None
    live = [q for q in queries_of(v) if q["path"] == "live"]
    return {
        "ready_s": round(v["ready_ms"] / 1000, 2),
        "all_rows_in_s": round(v["all_loaded_ms"] / 1000, 2),
        "first_live_result_s": round(v["first"]["at_ms"] / 1000, 2),
        "first_live_result_path": v["first"]["path"],
        "first_live_result_partial": v["first"]["partial"],
        "mb_until_ready": round(v["bytes_until_ready"] / 1e6, 2),
        "mb_until_ready_by_kind": {k: round(b / 1e6, 2) for k, b in v["bytes_until_ready_by_kind"].items()},
        "mb_until_first_result": round(v["bytes_until_first_result"] / 1e6, 2),
        "mb_until_all_rows_in": round(v["bytes_until_all_loaded"] / 1e6, 2),
        "mb_total": round(v["bytes_total"] / 1e6, 2),
        "after_ready_first_embed_ms": round(first_after, 1) if first_after is not None else None,
        "after_ready_next_median_embed_ms": round(next_after, 1) if next_after is not None else None,
        "after_ready_ratio": round(first_after / next_after, 2) if next_after else None,
        "after_ready_partial": sum(1 for q in after if q["partial"]),
        "warm_short_embed_ms": round(statistics.median(short), 1) if short else None,
        "rank_ms": round(statistics.median(q["rank_ms"] for q in ranked), 2) if ranked else None,
        "rank_ms_queries": len(ranked),
        "not_live": [q["query"] for q in queries_of(v) if q["path"] != "live"],
        "kernel": live[0]["kernel"] if live else None,
        "threads": live[0]["threads"] if live else None,
        "startup_s": _startup(v),
        "renderer_pss_mb": round(v["memory"]["renderer_pss_mb"]),
        "renderer_max_pss_mb": round(v["memory"]["renderer_max_pss_mb"]),
        "renderer_peak_rss_mb": round(v["memory"]["renderer_peak_rss_mb"]),
        "all_chromium_pss_mb": round(v["memory"]["all_pss_mb"]),
        "refetched_files": len(v["fetches"]["refetched"]),
        "range_requests": v["fetches"]["range_requests"],
        "settled": v["settled"]["settled"],
        "page_errors": v["errors"],
    }


def _startup(v: dict[str, Any]) -> dict[str, float] | None:
    """When each start-up step of the search worker ended, in s after navigation (the worker's own stamps)."""
    stamps = v["first"].get("startup_epoch_ms")
    if not stamps:
        return None
    return {k: round((t - v["time_origin_epoch_ms"]) / 1000, 2) for k, t in sorted(stamps.items(), key=lambda x: x[1])}


# -- recall ----------------------------------------------------------------------------------------------------


def _filenames(bundle_dir: Path) -> list[str]:
    meta = json.loads((bundle_dir / "metadata.json").read_text(encoding="utf-8"))
    return list(meta["columns"]["filename"]) if "columns" in meta else [r["filename"] for r in meta["images"]]


def _bundle_scores(bundle_dir: Path) -> Any:
    """score(Q [q, d]) -> [n, q] float32, ranked as the bundle ranks: float32 rows (v1), centred int8 rows (v2)."""
    from medmir.bundle.files import read_info, read_int8_rows

    info = read_info(bundle_dir)
    n, d = info.count, info.dim
    if info.format_version == 2:
        rows = read_int8_rows(bundle_dir, info)

        def int8(q: np.ndarray) -> np.ndarray:
            out = np.empty((n, len(q)), np.float32)
            for s in range(0, n, 65_536):
                out[s : s + 65_536] = (rows.codes[s : s + 65_536].astype(np.float32) @ q.T) * rows.scales[
                    s : s + 65_536, None
                ]
            return out + (q @ rows.center)[None, :]

        return int8
    emb = np.fromfile(bundle_dir / "embeddings.bin", dtype="<f4").reshape(n, d)
    return lambda q: emb @ q.T


def _top(scores: np.ndarray) -> list[np.ndarray]:
    from medmir.bundle.neighbors import top_k

    return [top_k(np.ascontiguousarray(scores[:, j]), K) for j in range(scores.shape[1])]


def _recall(found: list[Any], exact: list[np.ndarray]) -> dict[str, Any]:
    r = [len(set(map(int, f)) & set(map(int, e))) / K for f, e in zip(found, exact, strict=True)]
    return {"queries": len(r), "mean": round(float(np.mean(r)), 4), "min": round(float(np.min(r)), 4)} if r else {}


def recall(bundle_dir: Path, source: np.ndarray, visits: list[dict[str, Any]], held_out: np.ndarray | None) -> dict:
    """The page's top 10 and the bundle's own ranking against exact float32 ranking of the source embeddings."""
    seen: dict[str, dict[str, Any]] = {}
    for v in visits:
        for q in queries_of(v):
            if q["path"] == "live" and q["partial"] is None and q["embedding"] and q["query"] not in seen:
                seen[q["query"]] = q
    out: dict[str, Any] = {}
    score = _bundle_scores(bundle_dir)
    if seen:
        names = {f: i for i, f in enumerate(_filenames(bundle_dir))}
        qs = np.asarray([q["embedding"] for q in seen.values()], dtype=np.float32)
        exact = _top(source @ qs.T)
        page = [[names[h["filename"]] for h in q["hits"][:K]] for q in seen.values()]
        mine = _top(score(qs))
        out["page"] = _recall(page, exact)
        out["bundle_same_queries"] = _recall(mine, exact)
        out["page_equals_bundle_top10_share"] = round(
            float(np.mean([list(map(int, a)) == list(map(int, b)) for a, b in zip(page, mine, strict=True)])), 4
        )
    if held_out is not None:
        out["held_out"] = _recall(_top(score(held_out)), _top(source @ held_out.T))
    return out


# -- the run ---------------------------------------------------------------------------------------------------


def neighbors_reference() -> dict[str, Any]:
    """`medmir index`'s neighbour time at these sizes, from benchmarks/neighbors.py's results (not measured here)."""
    path = RESULTS / "neighbors.json"
    if not path.exists():
        return {}
    r = json.loads(path.read_text(encoding="utf-8"))
    out = {"source": "benchmarks/results/neighbors.json", "measured_at": r["measured_at"]}
    for name, rows in (("minilm-112k", 112_120), ("minilm-500k", 500_000)):
        c = r["corpora"].get(name)
        if c:
            m = c["medmir"]
            out[str(rows)] = {"seconds": m["seconds"], "method": m["report"]["method"],
                              "recall_at_10": m["recall_at_10"]}  # fmt: skip
    return out


def measure_site(name: str, version: int, rows: int, pack: Path, work: Path, app: Path, quick: bool, cache: dict,
                 held_out: np.ndarray | None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"format_version": version, "rows": rows}
    b = bundle(work, name, version, rows, pack, quick, cache)
    site = work / "sites" / name
    log(f"{name}: medmir site")
    try:
        build_site(b, pack, site, app)
    except RuntimeError as exc:
        out["error"] = str(exc)
        log(f"{name}: {exc}")
        return out
    out["site"] = site_stats(site)
    server = CountingServer(site)
    try:
        out["range_supported"] = server.range_supported()
        visits = {}
        with tempfile.TemporaryDirectory(prefix="medmir-scale-profile-") as profile:
            for which in ("first", "repeat"):
                log(f"{name}: {which} visit")
                try:
                    visits[which] = visit(server, Path(profile), quick, 300 if quick else 1500)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    out["error"] = f"{which} visit: {exc}"
                    log(f"{name}: {out['error']}")
                    break
    finally:
        server.close()
    out["visits"] = visits
    out["summary"] = {w: visit_summary(v) for w, v in visits.items()}
    if visits:
        dim = int(json.loads((b / "index_info.json").read_text())["dim"])
        out["recall"] = recall(b, source(rows, dim, quick, cache), list(visits.values()), held_out)
    for v in visits.values():  # the embeddings served their purpose; the results file keeps the figures
        for q in queries_of(v):
            q.pop("embedding", None)
    log(f"{name}: {json.dumps(out['summary'])} recall {json.dumps(out.get('recall'))}")
    (work / f"{name}.json").write_text(json.dumps(out))  # this site's raw figures, whatever happens next
    return out


def run(quick: bool, work: Path, pack: Path | None, only: list[str] | None) -> dict[str, Any]:
    pack = pack or (tiny_pack() if quick else full_pack())
    from medmir.model.pack import ModelPack

    dim = ModelPack.open(pack, verify=False).embed_dim
    sites = QUICK_SITES if quick else FULL_SITES
    app = snapshot_app(work)
    held_all = None
    if not quick:
        phrases = corpus.clinical_phrases(HELD_OUT_START + HELD_OUT_QUERIES)
        held_all = corpus.lift(corpus.minilm(phrases[HELD_OUT_START:], log=log), dim)
    cache: dict[int, np.ndarray] = {}
    result: dict[str, Any] = {
        "quick": quick,
        "pack": {
            "name": pack.name,
            "embed_dim": dim,
            "random_weights": True,
            "model": json.loads((pack / "manifest.json").read_text())["model"]["name"],
        },
        "embeddings": describe(dim, quick),
        "queries": {
            "first": FIRST_QUERY,
            "after_ready": len(AFTER_READY[:2] if quick else AFTER_READY),
            "ranked": len(RANKED[:1] if quick else RANKED),
            "short": SHORT_QUERIES,
            "held_out": 0 if quick else HELD_OUT_QUERIES,
            "type_delay_ms": 0 if quick else TYPE_DELAY_MS,
        },
        "neighbors_reference": {} if quick else neighbors_reference(),
        "sites": {},
    }
    for name, version, rows in sites:
        if only and name not in only:
            continue
        result["sites"][name] = measure_site(name, version, rows, pack, work, app, quick, cache, held_all)
    result["targets"] = targets(result)
    return result


# -- targets and the table ------------------------------------------------------------------------------------


def _target(key: str, rows: int) -> float | None:
    t = TARGETS[key]
    return t.get(rows) if isinstance(t, dict) else t


def figures(s: dict[str, Any]) -> dict[str, Any]:
    """The table's figures of one site (None where not measured)."""
    first, rep = s.get("summary", {}).get("first", {}), s.get("summary", {}).get("repeat", {})
    rec, site = s.get("recall", {}), s.get("site", {})
    visits = [x for x in (first, rep) if x]
    return {
        "first_visit_mb_until_ready": first.get("mb_until_ready"),
        "first_visit_data_mb_until_ready": first.get("mb_until_ready_by_kind", {}).get("data"),
        "first_visit_mb_total": first.get("mb_total"),
        "repeat_visit_mb_until_ready": rep.get("mb_until_ready"),
        "repeat_visit_mb_total": rep.get("mb_total"),
        "first_live_result_s_first": first.get("first_live_result_s"),
        "first_live_result_s_repeat": rep.get("first_live_result_s"),
        "ready_s_first": first.get("ready_s"),
        "ready_s_repeat": rep.get("ready_s"),
        "all_rows_in_s": first.get("all_rows_in_s"),
        "after_ready_first_embed_ms": first.get("after_ready_first_embed_ms"),
        "after_ready_next_median_embed_ms": first.get("after_ready_next_median_embed_ms"),
        "after_ready_ratio": first.get("after_ready_ratio"),
        "warm_short_embed_ms": first.get("warm_short_embed_ms"),
        "rank_ms": statistics.median(x["rank_ms"] for x in visits if x["rank_ms"] is not None)
        if any(x.get("rank_ms") is not None for x in visits)
        else None,
        "recall_page": rec.get("page", {}).get("mean"),
        "recall_held_out": rec.get("held_out", {}).get("mean"),
        "renderer_pss_gb": _max_gb(visits, "renderer_pss_mb"),
        # the page's renderer: the page and its search worker (the largest renderer process, holding the models)
        "page_pss_gb": _max_gb(visits, "renderer_max_pss_mb"),
        "site_files": site.get("files"),
        "largest_file_mb": site.get("largest_mb"),
        "refetched_files": max(x["refetched_files"] for x in visits) if visits else None,
    }


def _max_gb(visits: list[dict[str, Any]], key: str) -> float | None:
    xs = [x[key] for x in visits if x.get(key) is not None]
    return round(max(xs) / 1024, 2) if xs else None


def targets(r: dict[str, Any]) -> dict[str, Any]:
    """Each target against each site's figure: met (true/false), or null where not measured."""
    out: dict[str, Any] = {}
    higher_is_better = {"recall_page", "recall_held_out"}
    for name, s in r["sites"].items():
        f = figures(s)
        cells = {}
        for key in TARGETS:
            t, x = _target(key, s["rows"]), f.get(key)
            if t is None or x is None:
                cells[key] = None
            else:
                cells[key] = bool(x >= t) if key in higher_is_better else bool(x <= t)
        out[name] = cells
    return out


def _mb(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f} MB" if x >= 1 else f"{x * 1000:,.0f} kB"


def _num(x: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}{unit}"


def _cell(s: dict[str, Any], key: str, text: str, met: dict[str, Any]) -> str:
    if "error" in s and text == "-":
        return "failed"
    m = met.get(key)
    return text + (" ✓" if m is True else " ✗" if m is False else "")


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    sites = r["sites"]
    names = list(sites)
    head = " | ".join(f"v{sites[n]['format_version']} at {sites[n]['rows']:,}" for n in names)
    lines = [
        f"Measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores), headless Chromium, "
        f"{r['pack']['model']} pack with random weights ({r['pack']['embed_dim']}-d), rows: the real NIH label rows "
        f"(repeated beyond 112,120) with {r['embeddings']}; each site served by medmir's SiteHandler with every byte "
        f"counted at the server (Range {'answered' if _range(r) else 'not answered: whole files'}). First visit: a "
        f"fresh browser profile; repeat visit: the same profile again. ✓/✗: the issue's target met or not.",
        "",
        f"| figure | {head} | target |",
        "|---|" + "---|" * len(names) + "---|",
    ]

    def row(label: str, key: str | None, fmt: Any, target: str) -> None:
        cells = []
        for n in names:
            s = sites[n]
            text = fmt(s)
            cells.append(_cell(s, key or "", text, r["targets"].get(n, {})) if key else text)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    def fig(key: str) -> Any:
        return lambda s: figures(s)[key]

    row("bytes sent until the page is ready (first visit); of which the bundle (data/)", "first_visit_mb_until_ready",
        lambda s: f"{_mb(fig('first_visit_mb_until_ready')(s))}; {_mb(fig('first_visit_data_mb_until_ready')(s))}",
        "<= 140 MB at 112,120, <= 200 MB at 500,000")  # fmt: skip
    row("bytes sent in the whole first visit (every row, results' thumbnails)", None,
        lambda s: _mb(fig("first_visit_mb_total")(s)), "")  # fmt: skip
    row("bytes sent in the repeat visit: until ready / in all", "repeat_visit_mb_total",
        lambda s: f"{_mb(fig('repeat_visit_mb_until_ready')(s))} / {_mb(fig('repeat_visit_mb_total')(s))}",
        "<= 3 MB")  # fmt: skip
    row("ready (first / repeat visit); every row in (first)", None,
        lambda s: f"{_num(fig('ready_s_first')(s), ' s')} / {_num(fig('ready_s_repeat')(s), ' s')}; "
        f"{_num(fig('all_rows_in_s')(s), ' s')}", "")  # fmt: skip
    row("first live result after navigation, first visit", "first_live_result_s_first",
        lambda s: _num(fig("first_live_result_s_first")(s), " s", 2) + _partial(s, "first"), "<= 4 s")  # fmt: skip
    row("first live result after navigation, repeat visit", "first_live_result_s_repeat",
        lambda s: _num(fig("first_live_result_s_repeat")(s), " s", 2) + _partial(s, "repeat"), "<= 1.5 s")  # fmt: skip
    row("repeat visit, the search worker's start-up: each step's end (s after navigation)", None,
        lambda s: _steps(s, "repeat"), "")  # fmt: skip
    row("embedding, first query typed after ready / median of the next five (ratio)", "after_ready_ratio",
        lambda s: f"{_num(fig('after_ready_first_embed_ms')(s), ' ms')} / "
        f"{_num(fig('after_ready_next_median_embed_ms')(s), ' ms')} ({_num(fig('after_ready_ratio')(s), 'x', 2)})",
        "<= 2x")  # fmt: skip
    row("embedding, warm short query (median)", "warm_short_embed_ms",
        lambda s: _num(fig("warm_short_embed_ms")(s), " ms"), "<= 40 ms")  # fmt: skip
    row(
        "ranking as the page reports it, every row in (median)",
        "rank_ms",
        lambda s: _num(fig("rank_ms")(s), " ms", 2) + _kernel(s),
        "<= 15 ms at 112,120, <= 60 ms at 500,000",
    )
    row("recall@10, the page's top 10 vs exact float32 (the page's query embeddings)", "recall_page",
        lambda s: _recall_text(s, "page"), ">= 0.99 at 112,120, >= 0.95 at 500,000")  # fmt: skip
    row(
        f"recall@10, the bundle's ranking vs exact float32 ({r['queries']['held_out']} MiniLM held-out phrases)",
        "recall_held_out",
        lambda s: _recall_text(s, "held_out"),
        ">= 0.99 at 112,120, >= 0.95 at 500,000",
    )
    row("memory (PSS), the larger visit: the page's renderer process (the page and its search worker); all of the "
        "browser's renderer processes", "page_pss_gb",
        lambda s: f"{_num(fig('page_pss_gb')(s), ' GB', 2)}; {_num(fig('renderer_pss_gb')(s), ' GB', 2)}",
        "<= 0.6 GB")  # fmt: skip
    row("files fetched whole more than once in a visit; Range requests (first visit)", "refetched_files",
        lambda s: f"{_num(fig('refetched_files')(s), '', 0)}; "
        f"{_num(s.get('summary', {}).get('first', {}).get('range_requests'), '', 0)}", "0 refetched")  # fmt: skip
    row("site: files", "site_files", lambda s: _num(fig("site_files")(s), "", 0), "<= 20,000")
    row("site: largest file; largest data file", "largest_file_mb", _largest, "none over 25 MB")
    nb = r.get("neighbors_reference") or {}
    if nb:
        row("`medmir index` neighbours (benchmarks/neighbors.py, not measured here)", None,
            lambda s: _neighbors(nb, s["rows"]), "")  # fmt: skip
    failed = [f"- `{n}`: {s['error']}" for n, s in sites.items() if "error" in s]
    if failed:
        lines += ["", "Failed in this run:", "", *failed]
    return "\n".join(lines)


STEP_NAMES = {"init": "worker started", "contracts": "contracts", "textBytes": "text model read",
              "textSession": "session created", "collection": "first rows", "ready": "ready"}  # fmt: skip


def _steps(s: dict[str, Any], which: str) -> str:
    st = s.get("summary", {}).get(which, {}).get("startup_s")
    return ", ".join(f"{STEP_NAMES.get(k, k)} {t:.2f}" for k, t in st.items()) if st else "-"


def _partial(s: dict[str, Any], which: str) -> str:
    p = s.get("summary", {}).get(which, {}).get("first_live_result_partial")
    return f" (over the first {p['searched']:,} rows)" if p else ""


def _range(r: dict[str, Any]) -> bool:
    return any(s.get("range_supported") for s in r["sites"].values())


def _kernel(s: dict[str, Any]) -> str:
    f = s.get("summary", {}).get("first", {})
    return f" ({f['kernel']}, {f['threads']} thread{'s' if f['threads'] != 1 else ''})" if f.get("kernel") else ""


def _recall_text(s: dict[str, Any], key: str) -> str:
    x = s.get("recall", {}).get(key)
    return f"{x['mean']:.4f} (min {x['min']:.2f}, {x['queries']} queries)" if x else "-"


def _largest(s: dict[str, Any]) -> str:
    x = s.get("site")
    if not x:
        return "-"
    data = f"; {x['largest_data_mb']:,.1f} MB (`{x['largest_data_file']}`)" if x["largest_data_file"] else ""
    return f"{x['largest_mb']:,.1f} MB (`{x['largest_file']}`){data}"


def _neighbors(nb: dict[str, Any], rows: int) -> str:
    x = nb.get(str(rows))
    return f"{x['seconds']:,.0f} s ({x['method']}, recall@10 {x['recall_at_10']:.4f})" if x else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="3,000 rows, the tiny pack, one query of each kind")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default: benchmarks/results/scale.json; "
                   "quick: build/scale-quick.json)")  # fmt: skip
    p.add_argument("--doc", type=Path, default=None, help=f"doc with the generated:{BLOCK} block (default: "
                   "docs/PERFORMANCE.md; quick: none)")  # fmt: skip
    p.add_argument("--work", type=Path, default=None, help="bundles and sites (default: build/scale[-quick])")
    p.add_argument(
        "--pack", type=Path, default=None, help="model pack (default: the full-size random pack; quick: tiny)"
    )
    p.add_argument("--only", help="comma-separated site names to measure (e.g. v2-500000)")
    p.add_argument("--render-only", action="store_true", help="render --out into --doc without measuring")
    a = p.parse_args(argv)
    out = a.out or (ROOT / "build" / "scale-quick.json" if a.quick else RESULTS / "scale.json")
    doc = a.doc or (None if a.quick else DOC)
    failed = False
    if not a.render_only:
        from medmir.core.fsutil import atomic_write_json

        work = a.work or ROOT / "build" / ("scale-quick" if a.quick else "scale")
        work.mkdir(parents=True, exist_ok=True)
        only = a.only.split(",") if a.only else None
        r = run(a.quick, work, a.pack, only)
        if only and out.exists():  # the other sites keep their previous figures
            prev = json.loads(out.read_text(encoding="utf-8"))
            r["sites"] = {**prev["sites"], **r["sites"]}
            r["sites"] = {n: r["sites"][n] for n, _, _ in (QUICK_SITES if a.quick else FULL_SITES) if n in r["sites"]}
            r["targets"] = targets(r)
        r = {"measured_at": dt.date.today().isoformat(), "machine": machine(), **r}
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out, r)
        log(f"wrote {out}")
        failed = any("error" in s for s in r["sites"].values())
    r = json.loads(out.read_text(encoding="utf-8"))
    text = render(r)
    if doc:
        replace_block(doc, BLOCK, text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
