"""Exporting a BiomedCLIP-family checkpoint to a model pack: ONNX towers (FP32 + INT8), vocab, manifest.

With model/checkpoint.py (and the index stage's torch backend) the only modules that import torch: everything after
export runs the pack through onnxruntime (Python) or onnxruntime-web (browser).
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import open_clip
import torch
import torch.nn.functional as F
import transformers

from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json, sha256_file, staging_dir
from medmir.model.checkpoint import Source, count_parameters, load_clip, resolve_source
from medmir.model.config import CHECKPOINT_FILE, ClipConfig, definition_for_text_backbone
from medmir.model.manifest import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HUB_PREFIX,
    MANIFEST_FILE,
    PreprocessSpec,
    public_source,
    tokenizer_manifest,
    write_local_source,
)
from medmir.model.probes import probe_images, probe_texts
from medmir.model.quantize import quantize_int8
from medmir.model.tokenizer import TokenizerSpec, WordPieceTokenizer, load_vocab

OPSET = 17
Log = Callable[[str], None]


class TextTower(torch.nn.Module):
    """input_ids [batch, seq] -> L2-normalised text embeddings; the attention mask is ids != pad id."""

    def __init__(self, clip: torch.nn.Module):
        super().__init__()
        self.text = clip.text

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text(input_ids), dim=-1)


class VisionTower(torch.nn.Module):
    def __init__(self, clip: torch.nn.Module):
        super().__init__()
        self.visual = clip.visual

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.visual(pixel_values), dim=-1)


@contextmanager
def trimmed_word_embeddings(clip: torch.nn.Module, rows: int):
    """Temporarily cut the word-embedding table to the vocabulary's rows (ids past it never occur)."""
    emb = clip.text.transformer.embeddings.word_embeddings
    if rows > emb.num_embeddings:
        raise MedmirError(f"vocabulary has {rows} tokens but the model's embedding table only {emb.num_embeddings}")
    trimmed = torch.nn.Embedding(rows, emb.embedding_dim, padding_idx=emb.padding_idx)
    trimmed.weight.data.copy_(emb.weight.data[:rows])
    clip.text.transformer.embeddings.word_embeddings = trimmed
    try:
        yield
    finally:
        clip.text.transformer.embeddings.word_embeddings = emb


def _use_eager_attention(clip: torch.nn.Module) -> None:
    # SDPA's fast paths branch on the mask's values at trace time; eager attention traces to plain ops that keep
    # the padding mask for every sequence length.
    transformer = clip.text.transformer
    if hasattr(transformer, "set_attn_implementation"):
        transformer.set_attn_implementation("eager")
    else:  # older transformers
        transformer.config._attn_implementation = "eager"


@contextmanager
def _quiet_tracer():
    # The tracer warns about Python-side shape checks in transformers; the parity tests (several lengths,
    # batch sizes, padding to 256) are what prove the traced graph general.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is chosen on purpose
        yield


def export_text_onnx(clip: torch.nn.Module, out: Path, *, vocab_rows: int, pad_id: int) -> None:
    _use_eager_attention(clip)
    example = torch.tensor([[2, 1000, 2000, 3], [2, 1500, 3, pad_id]], dtype=torch.long)
    with trimmed_word_embeddings(clip, vocab_rows), torch.no_grad(), _quiet_tracer():
        torch.onnx.export(
            TextTower(clip).eval(),
            (example,),
            str(out),
            input_names=["input_ids"],
            output_names=["text_embeds"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def export_vision_onnx(clip: torch.nn.Module, out: Path, *, image_size: int) -> None:
    example = torch.zeros(2, 3, image_size, image_size)
    with torch.no_grad(), _quiet_tracer():
        torch.onnx.export(
            VisionTower(clip).eval(),
            (example,),
            str(out),
            input_names=["pixel_values"],
            output_names=["image_embeds"],
            dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def text_calibration(tokenizer: WordPieceTokenizer) -> list[dict[str, np.ndarray]]:
    """Calibration feeds for activation smoothing: the probe texts, one unpadded row each."""
    return [{"input_ids": np.array([tokenizer.encode(t)], dtype=np.int64)} for t in probe_texts()]


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def _stats(c: np.ndarray) -> dict[str, float]:
    return {"min_cosine": round(float(c.min()), 6), "mean_cosine": round(float(c.mean()), 6), "n": int(c.size)}


def measure_parity(
    clip: torch.nn.Module, pack_dir: Path, tokenizer: WordPieceTokenizer, texts: Sequence[str], images: np.ndarray
) -> dict[str, Any]:
    """FP32 ONNX vs PyTorch, padded vs unpadded, INT8 vs FP32: the figures the manifest records."""

    def sess(name: str) -> ort.InferenceSession:
        return ort.InferenceSession(str(pack_dir / name), providers=["CPUExecutionProvider"])

    text32, text8 = sess("text.onnx"), sess("text.int8.onnx")
    ids = [tokenizer.encode(t) for t in texts]
    with torch.no_grad():
        ref = np.concatenate([clip.encode_text(torch.tensor([r]), normalize=True).numpy() for r in ids])
        batch = np.array(tokenizer.encode_batch(texts), dtype=np.int64)
        ref_batch = clip.encode_text(torch.from_numpy(batch), normalize=True).numpy()
        ref_img = clip.encode_image(torch.from_numpy(images), normalize=True).numpy()
    one32 = np.concatenate([text32.run(None, {"input_ids": np.array([r], dtype=np.int64)})[0] for r in ids])
    one8 = np.concatenate([text8.run(None, {"input_ids": np.array([r], dtype=np.int64)})[0] for r in ids])
    batch32 = text32.run(None, {"input_ids": batch})[0]
    padded = np.array(tokenizer.encode_batch(texts, pad_to=tokenizer.spec.context_length), dtype=np.int64)
    padded32 = text32.run(None, {"input_ids": padded})[0]
    vis32 = sess("vision.onnx").run(None, {"pixel_values": images})[0]
    vis8 = sess("vision.int8.onnx").run(None, {"pixel_values": images})[0]
    token_counts = [len(r) for r in ids]
    return {
        "probe_texts": len(texts),
        "probe_token_counts": {"min": min(token_counts), "max": max(token_counts)},
        "probe_images": int(images.shape[0]),
        "text_fp32_onnx_vs_torch": _stats(np.concatenate([_cos_rows(one32, ref), _cos_rows(batch32, ref_batch)])),
        "text_fp32_padded256_vs_unpadded": _stats(_cos_rows(padded32, one32)),
        "text_int8_vs_fp32": _stats(_cos_rows(one8, one32)),
        "vision_fp32_onnx_vs_torch": _stats(_cos_rows(vis32, ref_img)),
        "vision_int8_vs_fp32": _stats(_cos_rows(vis8, vis32)),
    }


def _versions() -> dict[str, str]:
    return {
        "medmir": __version__,
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
    }


@dataclass(frozen=True)
class _Loaded:
    """A checkpoint loaded for export, with what the manifest records about it."""

    source: Source
    clip: torch.nn.Module
    cfg: ClipConfig
    definition: dict[str, Any]  # the known model it is (config/models.json), or {}
    checkpoint_sha256: str
    vocab: list[str]
    tokenizer: WordPieceTokenizer


def _load(source_spec: str, cache_dir: Path | None, log: Log) -> _Loaded:
    source: Source = resolve_source(source_spec, cache_dir=cache_dir)
    log(f"loading {source.spec}" + (f" @ {source.revision}" if source.revision else ""))
    if source.random_weights:
        log("WARNING: random weights: embeddings from this pack are meaningless")
    clip, cfg = load_clip(source)
    definition = definition_for_text_backbone(cfg.text_cfg["hf_model_name"]) or {}
    ckpt_sha = sha256_file(source.dir / CHECKPOINT_FILE)
    vocab = load_vocab(source.dir / "vocab.txt")
    tokenizer = WordPieceTokenizer(vocab, TokenizerSpec(context_length=cfg.context_length))
    return _Loaded(source, clip, cfg, definition, ckpt_sha, vocab, tokenizer)


def _export_towers(m: _Loaded, tmp: Path, log: Log, timings: dict[str, float]) -> None:
    """text.onnx and vision.onnx (FP32) into `tmp`; their seconds into `timings`."""
    for name, fn in (
        ("text.onnx", lambda p: export_text_onnx(m.clip, p, vocab_rows=len(m.vocab), pad_id=m.tokenizer.pad_id)),
        ("vision.onnx", lambda p: export_vision_onnx(m.clip, p, image_size=m.cfg.image_size)),
    ):
        log(f"exporting {name}")
        t = time.perf_counter()
        fn(tmp / name)
        timings[name] = round(time.perf_counter() - t, 1)


def _quantize_towers(m: _Loaded, tmp: Path, log: Log, timings: dict[str, float], **options: Any) -> dict[str, Any]:
    """text.int8.onnx and vision.int8.onnx from the FP32 models (`options`: quantize_int8's); what each records."""
    quant: dict[str, Any] = {}
    # Text activations are smoothed with the probe texts as calibration (measured on real weights, see
    # docs/QUANTIZATION.md); vision is not, as no real-weight ViT is at hand to show that it helps.
    calibration = {"text": text_calibration(m.tokenizer), "vision": None}
    for name in ("text", "vision"):
        log(f"quantizing {name}.int8.onnx")
        t = time.perf_counter()
        quant[name] = quantize_int8(
            tmp / f"{name}.onnx", tmp / f"{name}.int8.onnx", calibration=calibration[name], **options
        )
        timings[f"{name}.int8.onnx"] = round(time.perf_counter() - t, 1)
    return quant


def _model_section(m: _Loaded) -> dict[str, Any]:
    cfg, expected = m.cfg, m.definition.get("checkpoint", {}).get("sha256")
    return {
        "name": m.definition.get("name", "custom"),
        "title": m.definition.get("title", cfg.text_cfg["hf_model_name"]),
        "source": public_source(m.source.spec),  # published with every site: never a local path
        "revision": m.source.revision,
        "checkpoint_sha256": m.checkpoint_sha256,
        "checkpoint_matches_published": (m.checkpoint_sha256 == expected) if expected else None,
        "parameters": count_parameters(m.clip),
        "random_weights": m.source.random_weights,
        "embed_dim": cfg.embed_dim,
        "context_length": cfg.context_length,
        "vocab_rows": len(m.vocab),
        "open_clip_config": cfg.as_open_clip_json(),
        "config_had_legacy_keys": cfg.legacy_keys,
    }


def _models_section(m: _Loaded, quant: dict[str, Any]) -> dict[str, Any]:
    cfg, dim = m.cfg, m.cfg.embed_dim
    return {
        "text": {
            "fp32": "text.onnx",
            "int8": "text.int8.onnx",
            "input": {
                "name": "input_ids",
                "dtype": "int64",
                "shape": ["batch", "sequence"],
                "max_sequence": cfg.context_length,
                "mask": f"derived in the graph: ids != {m.tokenizer.pad_id}",
            },
            "output": {"name": "text_embeds", "dtype": "float32", "shape": ["batch", dim], "normalized": True},
            "quantization": quant["text"],
        },
        "vision": {
            "fp32": "vision.onnx",
            "int8": "vision.int8.onnx",
            "input": {
                "name": "pixel_values",
                "dtype": "float32",
                "shape": ["batch", 3, cfg.image_size, cfg.image_size],
            },
            "output": {"name": "image_embeds", "dtype": "float32", "shape": ["batch", dim], "normalized": True},
            "quantization": quant["vision"],
        },
    }


def _export_section(t0: float, timings: dict[str, float]) -> dict[str, Any]:
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 1),
        "step_seconds": timings,
        "onnx_opset": OPSET,
        "exporter": "torch.onnx.export(dynamo=False)",
        "versions": _versions(),
    }


def export_pack(
    source_spec: str,
    out: Path,
    *,
    log: Log = print,
    per_channel: bool = True,
    reduce_range: bool = False,
    weight_type: str = "uint8",
    cache_dir: Path | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Load a checkpoint with open_clip and write a complete, checked model pack to `out` (atomically)."""
    t0 = time.perf_counter()
    m = _load(source_spec, cache_dir, log)
    timings: dict[str, float] = {}
    with staging_dir(out, "model export", inputs=[m.source.dir], force=force) as tmp:
        _export_towers(m, tmp, log, timings)
        quant = _quantize_towers(
            m, tmp, log, timings, per_channel=per_channel, reduce_range=reduce_range, weight_type=weight_type
        )
        shutil.copyfile(m.source.dir / "vocab.txt", tmp / "vocab.txt")
        log("measuring parity (ONNX vs PyTorch, INT8 vs FP32)")
        probes = probe_images(m.cfg.image_size, m.cfg.preprocess_cfg)
        parity = measure_parity(m.clip, tmp, m.tokenizer, probe_texts(), probes)
        files = {
            p.name: {"bytes": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(tmp.iterdir()) if p.is_file()
        }
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION if weight_type == "uint8" else 1,
            "model": _model_section(m),
            "tokenizer": tokenizer_manifest(m.tokenizer),
            "preprocess": PreprocessSpec.from_config(m.cfg).to_manifest(),
            "models": _models_section(m, quant),
            "parity": parity,
            "export": _export_section(t0, timings),
            "files": files,
        }
        atomic_write_json(tmp / MANIFEST_FILE, manifest)
        if not m.source.spec.startswith(HUB_PREFIX):
            write_local_source(tmp, m.source.dir)  # so `index --device cuda` finds the weights without --checkpoint
    log(f"wrote {out} in {manifest['export']['seconds']} s")
    return manifest
