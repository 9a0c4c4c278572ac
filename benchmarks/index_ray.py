"""`medmir index` on Ray against the local engine, in one run on this machine: N NIH PNGs (default 100, 1024 x 1024),
the full-size random-weight BiomedCLIP pack (FP32 vision), no cache; the local engine (its default workers), then the
Ray engine with 1 and 2 workers (each a local Ray that medmir starts and stops: its start-up is counted), all three
checked to write the same bundle; and the Ray engine's merge at 112,120 synthetic rows (the shards read back, the
bundle written from them with the neighbours: what follows the embedding in a Ray run).

Run: make ray-bench [N=100]   (benchmarks/results/index_ray.json and the table in docs/PERFORMANCE.md)
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, synthetic
from benchmarks.report import ROOT, machine, read_result, replace_block, write_result

DOC = ROOT / "docs" / "PERFORMANCE.md"
BLOCK = "index-ray"
SAMPLE = ROOT.parent / "shared" / "data" / "nih-sample"
MERGE_ROWS = 112_120
SHARD = 256  # rows a shard in the merge measurement (a run writes one per finished batch)


def log(s: str) -> None:
    print(f"[index-ray] {s}", file=sys.stderr, flush=True)


def _run(src: Path, labels: Path, pack: Path, out: Path, **kw: Any) -> dict[str, Any]:
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    t = time.perf_counter()
    rep = build_index(IndexOptions(src, labels, pack, out, **kw))
    wall = time.perf_counter() - t
    return {"images": rep.count, "embedded": rep.embedded, "seconds": round(wall, 2),
            "images_per_s": round(rep.count / wall, 2)}  # fmt: skip


def _same(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir() if p.name not in ("index_info.json", ".medmir-output.json"))
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def engines(pack: Path, n: int, work: Path) -> dict[str, Any]:
    names = sorted(p.name for p in (SAMPLE / "images").iterdir())[:n]
    src = work / "images"
    src.mkdir()
    for name in names:
        shutil.copyfile(SAMPLE / "images" / name, src / name)
    labels = work / "labels.csv"
    labels.write_text("filename,labels\n" + "".join(f"{x},X\n" for x in names))
    log(f"local engine, {n} images")
    out = {"local": _run(src, labels, pack, work / "local")}
    for w in (1, 2):
        log(f"Ray engine, {w} worker(s)")
        out[f"ray_{w}"] = _run(src, labels, pack, work / f"ray{w}", engine="ray", workers=w, shards=work / f"s{w}")
        out[f"ray_{w}"]["same_bundle_as_local"] = _same(work / "local", work / f"ray{w}")
    return out


def merge(pack_dir: Path, work: Path) -> dict[str, Any]:
    """Shards of MERGE_ROWS synthetic rows (NIH label rows, MiniLM clinical phrases lifted to the pack's width as
    benchmarks/scale.py uses, one small WebP each), then timed:
    reading them back and writing the bundle from them in the labels' order, as `medmir index --engine ray` does."""
    from medmir.bundle.write import BundleWriter
    from medmir.index.shards import Row, ShardStore, Source
    from medmir.model.pack import ModelPack

    pack = ModelPack.open(pack_dir)
    records = list(synthetic.nih_rows(MERGE_ROWS))
    vectors = corpus.structured(MERGE_ROWS, pack.embed_dim)  # real structure, so the neighbours run as they would
    sources = [Source(f"/images/{r.filename}", 1000 + i, i) for i, r in enumerate(records)]
    thumb = synthetic.thumbnail()
    store = ShardStore(work / "store", pack.manifest_sha256, "fp32", pack.embed_dim)
    log(f"merge: writing {MERGE_ROWS:,} synthetic rows as shards of {SHARD}")
    order = np.random.default_rng(0).permutation(MERGE_ROWS)  # shards arrive in any order
    for a in range(0, MERGE_ROWS, SHARD):
        idx = order[a : a + SHARD]
        store.add([sources[i] for i in idx], [Row(f"{i:064x}", vectors[i], "") for i in idx], [thumb] * len(idx))
    log("merge: timed")
    t0 = time.perf_counter()
    again = ShardStore(work / "store", pack.manifest_sha256, "fp32", pack.embed_dim)
    t1 = time.perf_counter()
    (work / "bundle").mkdir()
    writer = BundleWriter(work / "bundle", pack)
    for r, s in zip(records, sources, strict=True):
        row = again.get(s)
        assert row is not None and row.vector is not None
        writer.add(r, row.vector, again.thumbnail(row.sha).read_bytes())
    t2 = time.perf_counter()
    writer.finish(neighbors=10, image_embeddings={"precision": "synthetic", "backend": "random unit"})
    t3 = time.perf_counter()
    method = json.loads((work / "bundle" / "index_info.json").read_text())["neighbors"]["method"]
    return {"rows": MERGE_ROWS, "shard_rows": SHARD, "read_shards_s": round(t1 - t0, 2),
            "add_rows_s": round(t2 - t1, 2), "finish_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2),
            "neighbors": method}  # fmt: skip


def update(work: Path) -> dict[str, Any] | None:
    """`medmir index --update` at 112,120 rows: one patient's images removed from a copy of benchmarks/scale.py's
    version 2 bundle (checked, rows kept read back, the bundle written again with its neighbours)."""
    from medmir.bundle.read import Bundle
    from medmir.index.update import update_index

    src = ROOT / "build" / "scale" / "bundles" / f"v2-{MERGE_ROWS}"
    if not (src / "index_info.json").is_file():
        log(f"update: no {src} (make scale-bench builds it); not measured")
        return None
    copy = work / "bundle"
    shutil.copytree(src, copy)
    b = Bundle.open(copy, verify=False)
    patient = b.metadata[0]["patient_id"]
    log(f"update: removing patient {patient} from {MERGE_ROWS:,} rows")
    t = time.perf_counter()
    # force: benchmarks/synthetic.py wrote it, not `medmir index`
    rep = update_index(copy, synthetic.DEFAULT_PACK, remove={patient}, force=True)
    seconds = round(time.perf_counter() - t, 2)
    return {"rows": MERGE_ROWS, "removed": len(rep.removed), "kept": rep.kept, "seconds": seconds}


def render(r: dict[str, Any]) -> str:
    e, m = r["engines"], r["merge"]
    lines = [
        f"Measured {r['measured_at']} on {r['machine']['cpu']} ({r['machine']['cores']} cores), {r['images']} NIH "
        "PNGs (1024 x 1024), full-size random-weight BiomedCLIP pack, FP32 vision, no cache; whole `medmir index` "
        "runs (the Ray ones start and stop a local Ray).",
        "",
        "| engine | seconds | images/s | vs local | same bundle as local |",
        "|---|---|---|---|---|",
    ]
    for key, label in (("local", "local"), ("ray_1", "Ray, 1 worker"), ("ray_2", "Ray, 2 workers")):
        x = e[key]
        same = "" if key == "local" else ("yes" if x["same_bundle_as_local"] else "**no**")
        lines.append(f"| {label} | {x['seconds']} | {x['images_per_s']} | "
                     f"{x['images_per_s'] / e['local']['images_per_s']:.2f}x | {same} |")  # fmt: skip
    lines += [
        "",
        f"The Ray merge at {m['rows']:,} synthetic rows (NIH label rows, MiniLM clinical phrases lifted to 512-d; "
        f"shards of {m['shard_rows']}): shards read back "
        f"{m['read_shards_s']} s, rows and thumbnails added to the bundle writer {m['add_rows_s']} s, the bundle "
        f"finished (neighbours: {m['neighbors']}) {m['finish_s']} s; {m['total_s']} s in all.",
    ]
    u = r.get("update")
    if u:
        lines.append(f"`medmir index --update` removing one patient ({u['removed']} images) from a {u['rows']:,}-row "
                     f"version 2 bundle (benchmarks/scale.py's): {u['seconds']} s, the bundle checked, its "
                     f"{u['kept']:,} kept rows read back and written again with their neighbours.")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    from medmir.cli.pipeline import random_pack

    n = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("N=")), "100"))
    if "--render-only" not in sys.argv:
        pack = synthetic.DEFAULT_PACK
        if not (pack / "manifest.json").exists():
            pack = Path(random_pack(ROOT / "build" / "bench", SAMPLE.parent.parent / "models" / "biomedclip", print))
        (ROOT / "build").mkdir(exist_ok=True)
        r: dict[str, Any] = {"images": n}
        with tempfile.TemporaryDirectory(prefix="medmir-update-", dir=ROOT / "build") as tmp:
            r["update"] = update(Path(tmp))
        with tempfile.TemporaryDirectory(prefix="medmir-ray-bench-", dir=ROOT / "build") as tmp:
            r["engines"] = engines(pack, n, Path(tmp))
        with tempfile.TemporaryDirectory(prefix="medmir-ray-merge-", dir=ROOT / "build") as tmp:
            r["merge"] = merge(pack, Path(tmp))
        r["measured_at"], r["machine"] = dt.date.today().isoformat(), machine()
        write_result("index_ray", r)
    r = read_result("index_ray")
    replace_block(DOC, BLOCK, render(r))
    print(render(r))


if __name__ == "__main__":
    main()
