"""The model pack's manifest.json: what it records and how it is validated (contract: docs/FORMAT.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json, sha256_file
from medmir.model.config import read_json
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
