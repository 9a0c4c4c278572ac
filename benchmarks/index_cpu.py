"""Index build rate on this CPU: the full-size random BiomedCLIP pack, FP32 and INT8 vision, and the decode-only
rate measured in the same run (how close indexing is to the decode bound), with peak memory.

Run: make index-bench [N=100]   (writes benchmarks/results/index_cpu.json and the table in docs/PERFORMANCE.md)
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT, machine, read_result, replace_block, write_result

if TYPE_CHECKING:
    from medmir.model.manifest import PreprocessSpec

DOC = ROOT / "docs" / "PERFORMANCE.md"
SAMPLE = ROOT.parent / "shared" / "data" / "nih-sample"
PACK = ROOT / "build" / "demo" / "work" / "random-biomedclip" / "pack"


def decode_rate(paths: list[Path], spec: PreprocessSpec) -> float:
    from medmir.core.workers import spawn_pool
    from medmir.index.embed.onnx import prepare_image

    t = time.perf_counter()
    with spawn_pool(os.cpu_count() or 1) as pool:
        list(pool.map(prepare_image, range(len(paths)), map(str, paths), [spec] * len(paths), [False] * len(paths),
                      [False] * len(paths)))  # fmt: skip
    return len(paths) / (time.perf_counter() - t)


def render(r: dict) -> str:
    lines = [
        f"Measured {r['measured_at']} on {r['machine']['cpu']} ({r['machine']['cores']} cores), {r['images']} NIH "
        f"PNGs (1024 x 1024), full-size random-weight BiomedCLIP pack, no cache. Peak memory (largest process): "
        f"{r['peak_rss_mb']:.0f} MB.",
        "",
        "| what | images/s | share of decode-only rate |",
        "|---|---|---|",
        f"| decode + preprocess only ({r['machine']['cores']} processes) "
        f"| {r['decode_only_images_per_s']:.1f} | 100% |",
    ]
    for prec in ("fp32", "int8"):
        rate = r[f"index_{prec}_images_per_s"]
        lines.append(f"| `medmir index`, {prec.upper()} vision | {rate:.1f} | "
                     f"{100 * rate / r['decode_only_images_per_s']:.0f}% |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    from medmir.cli.pipeline import random_pack
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index
    from medmir.model.pack import ModelPack

    n = int(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("N=")), "100"))
    if "--render-only" not in sys.argv:
        pack_dir = (
            PACK
            if (PACK / "manifest.json").exists()
            else random_pack(ROOT / "build" / "bench", SAMPLE.parent.parent / "models" / "biomedclip", print)
        )
        pack = ModelPack.open(pack_dir)
        names = sorted(p.name for p in (SAMPLE / "images").iterdir())[:n]
        with tempfile.TemporaryDirectory(prefix="medmir-index-bench-", dir=ROOT / "build") as tmp:
            src = Path(tmp) / "images"
            src.mkdir()
            for name in names:
                shutil.copyfile(SAMPLE / "images" / name, src / name)
            (Path(tmp) / "labels.csv").write_text("filename,labels\n" + "".join(f"{x},X\n" for x in names))
            decode = decode_rate([src / x for x in names], pack.preprocess)
            rates = {}
            for prec in ("fp32", "int8"):
                rep = build_index(
                    IndexOptions(src, Path(tmp) / "labels.csv", pack_dir, Path(tmp) / f"b-{prec}", precision=prec)
                )
                rates[prec] = rep.embedded / rep.embed_seconds
        peak = max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
        write_result("index_cpu", {
            "measured_at": dt.date.today().isoformat(), "machine": machine(), "images": n,
            "decode_only_images_per_s": round(decode, 2), "index_fp32_images_per_s": round(rates["fp32"], 2),
            "index_int8_images_per_s": round(rates["int8"], 2), "peak_rss_mb": round(peak / 1024, 1),
            "pack": str(pack_dir.relative_to(ROOT)) if pack_dir.is_relative_to(ROOT) else str(pack_dir),
        })  # fmt: skip
    r = read_result("index_cpu")
    replace_block(DOC, "index-cpu", render(r))
    print(render(r))


if __name__ == "__main__":
    main()
