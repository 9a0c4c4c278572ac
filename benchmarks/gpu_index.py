"""GPU indexing throughput (`medmir index --device cuda`): one prepared run for a GPU machine, no network needed.

Measures, in one run, on a random-weight BiomedCLIP checkpoint (real shapes, `init_random`; no model pack, so no
ONNX export is paid for: the torch backend needs only the checkpoint and its preprocessing spec):
- GPU only: preprocessed random tensors through the vision tower (batch 256 by default, after warm-up);
- decode only: the DataLoader alone (read + sha256 + decode + preprocess), exact and fast modes, no model;
- end to end: `embed_images_torch` in exact mode, fast mode, and exact mode with WebP thumbnails (what
  `medmir index` does when no --thumbnails folder is given); and, with the `ray` extra installed, the Ray engine's
  pipeline (`medmir index --engine ray`: CPU decode tasks feeding one PyTorch actor a GPU), exact mode;
- cosine between exact and fast embeddings (first 64 images) and between the dtype and fp32 (same inputs);
plus peak GPU memory, CPU count, GPU name, versions. Every measurement stops after --cap seconds.
Input: N files of NIH size made from the shared 400-image sample. Each copy keeps the original PNG stream (so
decoding costs exactly what NIH files cost) with a private tEXt chunk that makes its bytes and sha256 unique;
`--synth reencode` instead re-encodes each copy with a few perturbed pixels.

Run from the repo root on the GPU machine:
    python benchmarks/gpu_index.py                       # full size, 4000 images, cuda, bf16
Smoke test on a CPU-only machine (tests/test_gpu_index_script.py):
    python benchmarks/gpu_index.py --device cpu --n 64 --size tiny
Writes $OUT/gpu_index-<date>.json ($OUT defaults to benchmarks/results/) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import resource
import shutil
import struct
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Runs without `pip install -e .` too, as long as the dependencies are importable.
if importlib.util.find_spec("medmir") is None:
    sys.path.insert(0, str(ROOT / "src"))

COSINE_N = 64  # images for the cosine figures
NEEDED = (
    *("numpy", "PIL", "onnx", "onnxruntime", "torch", "torchvision", "open_clip", "timm"),
    *("transformers", "tokenizers", "huggingface_hub", "ftfy"),
)


def preflight(config: Path, sample: Path) -> None:
    """Say exactly what is missing before any work: this runs on a machine prepared elsewhere."""
    problems = []
    if not (config / "open_clip_config.json").is_file():
        problems.append(f"--config {config}: no open_clip_config.json (the BiomedCLIP config + vocab folder)")
    if not sample.is_dir() or not any(sample.glob("*.png")):
        problems.append(f"--sample {sample}: no PNG images (the shared NIH sample's images/ folder)")
    shm = _shm_free()
    if shm is not None and shm < 2 * 2**30:
        print(f"gpu_index: warning: /dev/shm has {shm / 2**20:.0f} MB free; DataLoader workers need ~1 GB", flush=True)
    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if importlib.util.find_spec("medmir") is None:
        missing.append("medmir (the repo's src/)")
    if missing:
        print(
            f"gpu_index: missing Python modules: {', '.join(missing)}\n"
            f"  python: {sys.executable} {platform.python_version()}\n"
            "  needs: numpy, pillow, onnx, onnxruntime, ftfy, huggingface-hub, torch (CUDA build for --device cuda),\n"
            "         torchvision, open-clip-torch, timm, transformers, tokenizers (the repo's `export` extra)\n"
            "  fix:   pip install -e '.[export]'   (if a CUDA torch is already installed and must stay, instead:\n"
            "         pip install -e . open-clip-torch==3.3.0 timm transformers tokenizers -- no torch pin)",
            file=sys.stderr,
        )
    for p in problems:
        print(f"gpu_index: {p}", file=sys.stderr)
    if missing or problems:
        raise SystemExit(2)


def png_with_text(data: bytes, tag: str) -> bytes:
    """The same PNG with a tEXt chunk after IHDR: other bytes and sha256, the same pixels and decoding work."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG with IHDR first")
    body = b"tEXt" + b"medmir-bench\0" + tag.encode()
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    end = 8 + 8 + 13 + 4  # signature + IHDR (length, type, 13 bytes, CRC)
    return data[:end] + chunk + data[end:]


def _reencode(src: Path, dst: Path, seed: int) -> None:
    import numpy as np
    from PIL import Image

    with Image.open(src) as im:
        a = np.array(im)
    rng = np.random.default_rng(seed)
    flat = a.reshape(-1)
    idx = rng.integers(0, flat.size, size=max(1, flat.size // 1000))
    flat[idx] ^= 1  # a few least-significant bits: same look and compressibility, different bytes
    Image.fromarray(a).save(dst, format="PNG")


def synthesise(sample: Path, out: Path, n: int, how: str, workers: int) -> list[Path]:
    sources = sorted(p for p in sample.iterdir() if p.suffix.lower() == ".png")
    if not sources:
        raise SystemExit(f"gpu_index: no PNGs in {sample}")
    out.mkdir(parents=True, exist_ok=True)
    src = [sources[i % len(sources)] for i in range(n)]
    dst = [out / f"{i:06d}_{s.name}" for i, s in enumerate(src)]
    if how == "reencode":  # CPU-bound: processes
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            list(pool.map(_reencode, src, dst, range(n), chunksize=16))
    else:  # I/O only: threads
        with ThreadPoolExecutor(max_workers=min(16, workers * 2)) as pool:
            list(pool.map(lambda i: dst[i].write_bytes(png_with_text(src[i].read_bytes(), str(i))), range(n)))
    return dst


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _figure(images: int, seconds: float) -> dict[str, float]:
    rate = round(images / seconds, 1) if seconds else 0.0
    return {"images": images, "seconds": round(seconds, 3), "images_per_s": rate}


def gpu_only(encoder: Any, batch: int, cap: float) -> dict[str, float]:
    import torch

    size = encoder.spec.image_size
    x = torch.randn(batch, 3, size, size, device=encoder.device)
    for _ in range(3):  # warm-up: kernels chosen, memory pools grown
        encoder.encode(x)
    _sync(encoder.device)
    done, t = 0, time.perf_counter()
    while time.perf_counter() - t < min(cap, 10.0) and done < 200 * batch:
        encoder.encode(x)  # includes the dtype cast and the copy of the vectors to the host, as indexing does
        done += batch
    _sync(encoder.device)
    return _figure(done, time.perf_counter() - t)


def decode_only(paths: list[Path], spec: Any, mode: str, workers: int, pin: bool, cap: float) -> dict:
    from medmir.index.embed.torch import decode_loader

    done, t = 0, time.perf_counter()
    for chunk in decode_loader(paths, spec, mode=mode, workers=workers, pin_memory=pin):  # type: ignore[arg-type]
        done += len(chunk.items)
        if time.perf_counter() - t > cap:
            break
    return _figure(done, time.perf_counter() - t)


def end_to_end(
    paths: list[Path], encoder: Any, mode: str, workers: int, batch: int, cap: float, thumbs: bool, keep: list[Any]
) -> dict[str, Any]:
    """Images/s of `embed_images_torch`; its first vectors go to `keep` (up to COSINE_N) for the cosine figures."""
    from medmir.index.embed.torch import embed_images_torch

    done, errors, t = 0, 0, time.perf_counter()
    run = embed_images_torch(paths, encoder, thumbnails=thumbs, batch_size=batch, workers=workers, preprocess=mode)
    for e in run:
        done += 1
        errors += e.error is not None
        if len(keep) < COSINE_N:
            keep.append(e.vector)
        if time.perf_counter() - t > cap:
            break
    out: dict[str, Any] = _figure(done, time.perf_counter() - t)
    out["errors"] = errors
    return out


def end_to_end_ray(paths: list[Path], ckpt: Path, spec: Any, encoder: Any, workers: int, batch: int,
                   work: Path) -> dict[str, Any]:  # fmt: skip
    """Images/s of `medmir index --engine ray`'s pipeline (medmir.index.ray), exact mode: a local Ray with
    `workers` + 1 CPUs running the decode tasks and one PyTorch actor a GPU (on a CPU run, one actor a CPU), every
    image (no cap: Ray's pipeline runs to the end), its start-up included."""
    from medmir.index.ray import TorchModel, embed_with_ray, torch_checkpoint_model
    from medmir.index.shards import ShardStore

    store = ShardStore(work / f"ray-shards-{time.time_ns()}", "gpu-bench", f"torch-{encoder.dtype}",
                       encoder.embed_dim)  # fmt: skip
    model = torch_checkpoint_model(TorchModel(str(encoder.device), encoder.dtype, ckpt), spec)
    done, errors, t = 0, 0, time.perf_counter()
    for e in embed_with_ray(paths, model, store, thumbnails=False, batch_size=batch, workers=workers + 1,
                            address=None, on_progress=lambda n: None):  # fmt: skip
        done += 1
        errors += e.error is not None
    out: dict[str, Any] = _figure(done, time.perf_counter() - t)
    out["errors"] = errors
    return out


def _vectors(paths: list[Path], encoder: Any, mode: str, workers: int, kept: list[Any]) -> Any:
    """Embeddings of `paths`: those an end-to-end run kept if it got that far, else from a run of their own."""
    import numpy as np

    from medmir.index.embed.torch import embed_images_torch

    if len(kept) < len(paths):
        kept = [e.vector for e in embed_images_torch(paths, encoder, workers=workers, preprocess=mode)]
    return np.stack(kept[: len(paths)])


def _cosines(a: Any, b: Any) -> dict[str, float]:
    import numpy as np

    c = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"n": int(c.size), "min": round(float(c.min()), 6), "mean": round(float(c.mean()), 6)}


def _shm_free() -> int | None:
    try:
        st = os.statvfs("/dev/shm")
        return st.f_bavail * st.f_frsize
    except OSError:
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def render(r: dict[str, Any]) -> str:
    rows = [
        ("GPU only (random tensors, model + host copy)", r["gpu_only"]),
        ("decode only, exact (DataLoader, no model)", r["decode_only_exact"]),
        ("decode only, fast", r["decode_only_fast"]),
        ("end to end, exact", r["end_to_end_exact"]),
        ("end to end, fast", r["end_to_end_fast"]),
        ("end to end, exact + WebP thumbnails", r["end_to_end_exact_thumbnails"]),
        *([("end to end, exact, on Ray (--engine ray)", r["end_to_end_ray"])] if r.get("end_to_end_ray") else []),
    ]
    lines = [
        f"{r['gpu']['name']} | {r['cpu']['count']} CPUs ({r['cpu']['name']}) | torch {r['versions']['torch']} | "
        f"{r['size']} model, {r['dtype']}, batch {r['batch_size']}, {r['workers']} decode workers, {r['n']} images",
        "",
        f"{'what':<46} {'images':>7} {'seconds':>8} {'images/s':>9}",
    ]
    lines += [f"{name:<46} {f['images']:>7} {f['seconds']:>8.2f} {f['images_per_s']:>9.1f}" for name, f in rows]
    c, d = r["cosine_exact_vs_fast"], r.get("cosine_dtype_vs_fp32")
    lines += [
        "",
        f"cosine exact vs fast: min {c['min']:.6f}, mean {c['mean']:.6f} (n={c['n']})",
        f"cosine {r['dtype']} vs fp32: " + (f"min {d['min']:.6f}, mean {d['mean']:.6f} (n={d['n']})" if d else "n/a"),
        f"peak GPU memory: {r['peak_gpu_memory_mb']} MB; peak RSS (main): {r['peak_rss_mb']} MB; "
        f"setup {r['setup_seconds']} s; total {r['total_seconds']} s",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT.parent / "shared" / "models" / "biomedclip")
    ap.add_argument("--sample", type=Path, default=ROOT.parent / "shared" / "data" / "nih-sample" / "images")
    ap.add_argument("--n", type=int, default=4000, help="images to synthesise and index")
    ap.add_argument("--size", choices=("full", "tiny"), default="full")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16")
    ap.add_argument("--batch-size", type=int, default=None, help="model batch (default: 256 on cuda, 16 on cpu)")
    ap.add_argument("--workers", type=int, default=None, help="decode processes (default: CPUs - 1)")
    ap.add_argument("--cap", type=float, default=45.0, help="seconds at most per measurement")
    ap.add_argument("--synth", choices=("chunk", "reencode"), default="chunk")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or ROOT / "benchmarks" / "results"))
    a = ap.parse_args(argv)
    preflight(a.config, a.sample)

    import numpy as np
    import torch

    from medmir.index.embed.torch import TorchEncoder, default_workers, resolve_device, spec_from_checkpoint
    from medmir.model.checkpoint import init_random

    t_all = time.perf_counter()
    device = resolve_device(a.device)
    workers = a.workers or default_workers()
    a.batch_size = a.batch_size or (256 if device.type == "cuda" else 16)
    gpu_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "none (CPU run)"
    print(f"gpu_index: {gpu_name}, {os.cpu_count()} CPUs, torch {torch.__version__}, {workers} workers", flush=True)
    work = a.work or Path(tempfile.mkdtemp(prefix="medmir-gpu-bench-"))
    setup: dict[str, float] = {}
    try:
        t = time.perf_counter()
        ckpt = work / f"checkpoint-{a.size}"
        if not (ckpt / "open_clip_pytorch_model.bin").exists():
            init_random(a.config, ckpt, size=a.size)
        setup["checkpoint"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        paths = synthesise(a.sample, work / "images", a.n, a.synth, workers)
        setup["synthesise"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        spec = spec_from_checkpoint(ckpt)
        encoder = TorchEncoder.from_checkpoint(ckpt, spec=spec, device=str(device), dtype=a.dtype)
        setup["model_load"] = round(time.perf_counter() - t, 1)
        print(f"setup (s): {setup}", flush=True)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        pin = device.type == "cuda"
        r: dict[str, Any] = {
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "gpu": {
                "name": gpu_name,
                "count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
                "cuda": torch.version.cuda,
            },
            "cpu": {"name": _cpu_name(), "count": os.cpu_count(), "usable": default_workers() + 1},
            "versions": {"python": platform.python_version(), "torch": torch.__version__},
            "device": str(device),
            "dtype": a.dtype,
            "size": a.size,
            "n": a.n,
            "synth": a.synth,
            "batch_size": a.batch_size,
            "workers": workers,
            "cap_seconds": a.cap,
            "dev_shm_free_bytes": _shm_free(),
            "setup_seconds": setup,
        }
        kept: dict[str, list[Any]] = {"exact": [], "fast": [], "thumbnails": []}

        def e2e(mode: str, thumbs: bool) -> dict[str, Any]:
            keep = kept["thumbnails" if thumbs else mode]
            return end_to_end(paths, encoder, mode, workers, a.batch_size, a.cap, thumbs, keep)

        steps = [
            ("gpu_only", lambda: gpu_only(encoder, a.batch_size, a.cap)),
            ("decode_only_exact", lambda: decode_only(paths, spec, "exact", workers, pin, a.cap)),
            ("decode_only_fast", lambda: decode_only(paths, spec, "fast", workers, pin, a.cap)),
            ("end_to_end_exact", lambda: e2e("exact", False)),
            ("end_to_end_fast", lambda: e2e("fast", False)),
            ("end_to_end_exact_thumbnails", lambda: e2e("exact", True)),
        ]
        if importlib.util.find_spec("ray") is not None:  # the extra medmir[ray]
            steps.append(("end_to_end_ray", lambda: end_to_end_ray(paths, ckpt, spec, encoder, workers, a.batch_size,
                                                                    work)))  # fmt: skip
        for name, fn in steps:
            r[name] = fn()
            print(f"{name}: {r[name]}", flush=True)
        some = paths[:COSINE_N]
        exact = _vectors(some, encoder, "exact", workers, kept["exact"])
        r["cosine_exact_vs_fast"] = _cosines(exact, _vectors(some, encoder, "fast", workers, kept["fast"]))
        r["peak_gpu_memory_mb"] = (
            round(torch.cuda.max_memory_allocated(device) / 2**20, 1) if device.type == "cuda" else None
        )
        if a.dtype != "fp32":  # a second copy of the weights, after the peak was read
            ref = TorchEncoder.from_checkpoint(ckpt, spec=spec, device=str(device), dtype="fp32")
            r["cosine_dtype_vs_fp32"] = _cosines(exact, _vectors(some, ref, "exact", workers, []))
            del ref
        else:
            r["cosine_dtype_vs_fp32"] = None
        r["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        r["total_seconds"] = round(time.perf_counter() - t_all, 1)
        assert np.isfinite(exact).all()
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"gpu_index-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(r, indent=2) + "\n", encoding="utf-8")
    print()
    print(render(r))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
