"""The model pack's manifest.json: what it records and how it is validated (contract: docs/FORMAT.md), and its
preprocessing spec as one checked value (`PreprocessSpec`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json, sha256_file
from medmir.model.config import ClipConfig, read_json
from medmir.model.tokenizer import TokenizerSpec, WordPieceTokenizer

FORMAT_NAME = "medmir-model-pack"
# 2: INT8 MatMul weights are uint8 (U8U8, the same numbers on every CPU); 1: int8 (U8S8, CPU-dependent), still read
# so `medmir model check` can say what is wrong with such a pack.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
LEGACY_INT8 = (
    "made the old, CPU-dependent way (format_version 1: int8 weights, whose onnxruntime kernels saturate on CPUs "
    "without VNNI, so embeddings differ between machines); export it again with this medmir"
)
MANIFEST_FILE = "manifest.json"
REQUIRED_FILES = ("text.onnx", "text.int8.onnx", "vision.onnx", "vision.int8.onnx", "vocab.txt")
HUB_PREFIX = "hf-hub:"
LOCAL_PREFIX = "local:"
# Where a pack made from a local folder was exported from, for this machine only: the manifest is published with
# every site (its sha256 is the pack's identity), so it names the folder, never its path.
LOCAL_SOURCE_FILE = "local_source.json"


# The one pipeline medmir runs (medmir.imaging.decode.preprocess_for_model, the torch backend, the browser).
PIPELINE = ("to_rgb", "resize_shorter_side", "center_crop", "scale", "normalize")


@dataclass(frozen=True)
class PreprocessSpec:
    """How an image becomes the vision model's input, as open_clip's validation transform (its `PreprocessCfg`):
    the shorter side resized to `image_size` (bicubic), a centred square crop, scaled to [0, 1], then `mean` and
    `std` per RGB channel. Checked when made (a bad spec fails once, where it is read, with "preprocess spec: ...").

    `from_config`: what an export of a checkpoint records; `from_manifest` / `to_manifest`: the manifest's
    "preprocess" section (docs/FORMAT.md), which also spells the steps out for other readers (the browser)."""

    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __post_init__(self) -> None:
        size = self.image_size
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise MedmirError(f"preprocess spec: image_size must be a positive integer, got {size!r}")
        for key in ("mean", "std"):
            val = getattr(self, key)
            if not isinstance(val, Sequence) or len(val) != 3 or not all(isinstance(x, int | float) for x in val):
                raise MedmirError(f"preprocess spec: {key} must be a list of 3 numbers, got {val!r}")
            object.__setattr__(self, key, tuple(val))  # as given (ints stay ints): to_manifest writes them back
        if np.any(np.asarray(self.std, dtype=np.float32) == 0):
            raise MedmirError(f"preprocess spec: std must be non-zero, got {list(self.std)!r}")

    @classmethod
    def from_config(cls, cfg: ClipConfig) -> PreprocessSpec:
        """The spec of a checkpoint's open_clip_config.json (its image size and preprocess_cfg)."""
        pre = cfg.preprocess_cfg
        if pre.get("resize_mode", "shortest") != "shortest" or pre.get("interpolation", "bicubic") != "bicubic":
            raise MedmirError(f"{cfg.path}: only shortest-side bicubic resizing is supported, got {pre}")
        return cls(cfg.image_size, pre["mean"], pre["std"])

    @classmethod
    def from_manifest(cls, section: Mapping[str, Any]) -> PreprocessSpec:
        """A manifest's "preprocess" section; its steps, when listed, must be the pipeline medmir runs."""
        spec = cls(section.get("image_size"), section.get("mean"), section.get("std"))
        steps = section.get("steps")
        if steps is not None:
            # A manifest describing another pipeline must not be silently run through this one.
            ok = isinstance(steps, list) and all(isinstance(s, dict) for s in steps)
            ops = [s.get("op") for s in steps] if ok else steps
            if ops != list(PIPELINE):
                raise MedmirError(f"preprocess spec: unsupported steps {ops!r}, expected {list(PIPELINE)}")
            resize = steps[1]
            if (
                resize.get("interpolation", "bicubic") != "bicubic"
                or resize.get("size", spec.image_size) != spec.image_size
            ):
                raise MedmirError(f"preprocess spec: unsupported resize step {resize!r}")
        return spec

    def to_manifest(self) -> dict[str, Any]:
        """The manifest's "preprocess" section (what `from_manifest` reads back)."""
        size, mean, std = self.image_size, list(self.mean), list(self.std)
        return {
            "input": "pixel_values",
            "layout": "NCHW",
            "color": "RGB",
            "steps": [
                {"op": "to_rgb", "alpha": "dropped (PIL convert('RGB'))", "gray": "replicated to 3 channels"},
                {
                    "op": "resize_shorter_side",
                    "size": size,
                    "interpolation": "bicubic",
                    "antialias": True,
                    "reference": "PIL.Image.resize(BICUBIC), as open_clip's transform",
                },
                {"op": "center_crop", "size": size},
                {"op": "scale", "factor": 1 / 255},
                {"op": "normalize", "mean": mean, "std": std},
            ],
            "image_size": size,
            "mean": mean,
            "std": std,
        }

    def normalization(self) -> tuple[np.ndarray, np.ndarray]:
        """`mean` and `std` as float32 [3, 1, 1], to broadcast over CHW pixels."""
        return (np.asarray(self.mean, dtype=np.float32).reshape(3, 1, 1),
                np.asarray(self.std, dtype=np.float32).reshape(3, 1, 1))  # fmt: skip


def tokenizer_manifest(tok: WordPieceTokenizer) -> dict[str, Any]:
    s = tok.spec
    return {
        "type": "wordpiece",
        "vocab": "vocab.txt",
        "vocab_size": len(tok.vocab),
        "lowercase": s.lowercase,
        "strip_accents": s.strip_accents,
        "handle_chinese_chars": s.handle_chinese_chars,
        "max_chars_per_word": s.max_chars_per_word,
        "continuing_subword_prefix": s.continuing_subword_prefix,
        "context_length": s.context_length,
        "truncation": "keep the first context_length - 2 tokens, then [SEP]",
        "padding": "none: feed the real token count; if a batch is padded, pad with pad id (masked in the graph)",
        "special_tokens": {
            "pad": {"token": s.pad_token, "id": tok.pad_id},
            "unk": {"token": s.unk_token, "id": tok.unk_id},
            "cls": {"token": s.cls_token, "id": tok.cls_id},
            "sep": {"token": s.sep_token, "id": tok.sep_id},
            "mask": {"token": s.mask_token, "id": tok.vocab.index(s.mask_token)},
        },
        "clean": {
            "name": s.clean,
            "steps": [
                "ftfy.fix_text with fix_encoding=False (HTML entities, C1 controls, ligatures, character width, "
                "curly quotes, line breaks, terminal escapes, control characters, NFC; repeated to a fixed point)",
                "html.unescape twice",
                "strip; collapse runs of Python str.split() whitespace to one space",
            ],
            "differs_from_reference": "ftfy's mojibake repair (fix_encoding) is not applied",
        },
        "special_tokens_in_text": "matched literally (case-sensitive) before normalisation, as HF tokenizers does",
    }


def is_legacy_int8(manifest: dict[str, Any]) -> bool:
    """A version-1 pack: int8 weights, CPU-dependent INT8 embeddings (see LEGACY_INT8)."""
    return manifest.get("format_version") == 1


def spec_from_manifest(tok: dict[str, Any], path: Path) -> TokenizerSpec:
    try:
        sp = tok["special_tokens"]
        return TokenizerSpec(
            lowercase=bool(tok["lowercase"]),
            strip_accents=bool(tok["strip_accents"]),
            handle_chinese_chars=bool(tok["handle_chinese_chars"]),
            max_chars_per_word=int(tok["max_chars_per_word"]),
            context_length=int(tok["context_length"]),
            continuing_subword_prefix=str(tok["continuing_subword_prefix"]),
            pad_token=sp["pad"]["token"],
            unk_token=sp["unk"]["token"],
            cls_token=sp["cls"]["token"],
            sep_token=sp["sep"]["token"],
            mask_token=sp["mask"]["token"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MedmirError(f"{path}: tokenizer section is incomplete ({exc!r})") from exc


def read_manifest(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / MANIFEST_FILE
    if not pack_dir.is_dir():
        raise MedmirError(f"{pack_dir}: model pack folder not found")
    m = read_json(path)
    if not isinstance(m, dict) or m.get("format") != FORMAT_NAME:
        raise MedmirError(f"{path}: not a medmir model pack manifest")
    if m.get("format_version") not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise MedmirError(f"{path}: format_version {m.get('format_version')!r}, this medmir reads {readable}")
    for key in ("model", "tokenizer", "preprocess", "models", "files"):
        if not isinstance(m.get(key), dict):
            raise MedmirError(f"{path}: missing section {key!r}")
    missing = [f for f in REQUIRED_FILES if f not in m["files"]]
    if missing:
        raise MedmirError(f"{path}: files section lacks {', '.join(missing)}")
    return m


def verify_files(pack_dir: Path, manifest: dict[str, Any]) -> None:
    """Every listed file present, of the listed size and sha256; raises naming the first bad file."""
    for name, meta in manifest["files"].items():
        p = pack_dir / name
        if Path(name).name != name:
            raise MedmirError(f"{pack_dir / MANIFEST_FILE}: file entry {name!r} is not a plain file name")
        if not p.is_file():
            raise MedmirError(f"{p}: listed in the manifest but missing")
        size = p.stat().st_size
        if size != meta["bytes"]:
            raise MedmirError(f"{p}: {size} bytes, the manifest says {meta['bytes']} (truncated or replaced)")
        digest = sha256_file(p)
        if digest != meta["sha256"]:
            raise MedmirError(f"{p}: sha256 {digest[:16]}... does not match the manifest's {meta['sha256'][:16]}...")


def public_source(spec: str) -> str:
    """What a manifest records as model.source: a hub id as given, or `local:NAME` (a local folder's base name)."""
    if spec.startswith(HUB_PREFIX):
        return spec
    return LOCAL_PREFIX + Path(spec).resolve().name


def names_local_path(source: str) -> bool:
    """A model.source that would publish a path of the builder's machine (packs exported before public_source)."""
    if source.startswith(HUB_PREFIX):
        return False
    return not source.startswith(LOCAL_PREFIX) or any(c in source for c in "/\\")


def write_local_source(pack_dir: Path, checkpoint: Path) -> None:
    atomic_write_json(pack_dir / LOCAL_SOURCE_FILE, {"checkpoint": str(checkpoint.resolve())})


def local_checkpoint(pack_dir: Path) -> Path | None:
    """The folder a pack was exported from on this machine, when it came from a local folder and is recorded."""
    try:
        recorded = json.loads((pack_dir / LOCAL_SOURCE_FILE).read_text(encoding="utf-8")).get("checkpoint")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(recorded) if isinstance(recorded, str) and recorded else None


def reusable(pack_dir: Path) -> bool:
    """Whether a pack on disk can be used as is: files intact, and exported by this format (not CPU-dependent INT8,
    no local path in the published manifest). Build steps re-export a pack that is not."""
    try:
        manifest = read_manifest(pack_dir)
        verify_files(pack_dir, manifest)
    except MedmirError:
        return False
    return not is_legacy_int8(manifest) and not names_local_path(str(manifest["model"].get("source") or ""))
