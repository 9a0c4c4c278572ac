"""Contract-valid bundles at NIH scale and beyond, for the scale benchmarks (never committed).

Rows carry the real NIH metadata (all 112,120 rows of the label CSV; beyond that the rows repeat with a suffix on
the file name) and random unit embeddings, or any embeddings given (e.g. `benchmarks/corpus.py`'s structured sets);
every thumbnail is one small real WebP. They go through the one bundle writer, so version 1 (today's format) and
version 2 come out exactly as `medmir index` would write them; `medmir verify` passes on both.

Run: .venv/bin/python benchmarks/synthetic.py OUT --rows 112120 [--bundle-format 2] [--pack PACK]
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT

NIH_CSV = ROOT.parent / "shared" / "data" / "nih-sample" / "Data_Entry_2017_v2020.csv.gz"
DEFAULT_PACK = ROOT / "build" / "demo" / "work" / "random-biomedclip" / "pack"


def nih_rows(n: int) -> Iterator:
    """n records: the NIH label CSV's rows in order, repeated with `-rN` before the extension once exhausted."""
    from medmir.data.nih import read_nih_labels

    base = read_nih_labels(NIH_CSV)
    for i in range(n):
        r = base[i % len(base)]
        lap = i // len(base)
        if lap:
            stem, dot, ext = r.filename.rpartition(".")
            r = replace(r, filename=f"{stem}-r{lap}{dot}{ext}", patient_id=f"{r.patient_id}-r{lap}")
        yield r


def random_unit(n: int, dim: int, seed: int = 0, chunk: int = 65536) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        x = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield from x


def thumbnail() -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).save(buf, "WEBP", quality=85)
    return buf.getvalue()


def make_bundle(out: Path, rows: int, *, pack_dir: Path = DEFAULT_PACK, version: int = 1,
                embeddings: np.ndarray | None = None, neighbors: int = 10, seed: int = 0) -> Path:  # fmt: skip
    """Write a bundle of `rows` rows to `out` (a new folder, or this command's previous output)."""
    from medmir.bundle.write import BundleWriter
    from medmir.core.fsutil import staging_dir
    from medmir.model.pack import ModelPack

    pack = ModelPack.open(pack_dir)
    vectors = iter(embeddings) if embeddings is not None else random_unit(rows, pack.embed_dim, seed)
    thumb = thumbnail()
    with staging_dir(out, "synthetic-bundle", inputs=[pack_dir]) as tmp:
        writer = BundleWriter(tmp, pack, version=version)
        for record, vec in zip(nih_rows(rows), vectors, strict=False):
            writer.add(record, vec, thumb)
        writer.finish(neighbors=neighbors, image_embeddings={"precision": "synthetic", "backend": "random unit"})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--rows", type=int, default=112_120)
    p.add_argument("--bundle-format", type=int, choices=(1, 2), default=1)
    p.add_argument("--pack", type=Path, default=DEFAULT_PACK)
    a = p.parse_args(argv)
    make_bundle(a.out, a.rows, pack_dir=a.pack, version=a.bundle_format)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
