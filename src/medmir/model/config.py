"""Reading and validating open_clip model configs (both key generations) without importing torch.

open_clip >= 2.23 renamed the HF text-tower keys `proj`/`pooler_type` to `hf_proj_type`/`hf_pooler_type` and
rejects the old names; a config that names neither pooler makes open_clip fall back to mean pooling silently.
Here both generations are accepted, normalised to the current keys, and a missing pooler is an error.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from medmir.core.errors import MedmirError

CONFIG_FILE = "open_clip_config.json"
CHECKPOINT_FILE = "open_clip_pytorch_model.bin"
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

_LEGACY_TEXT_KEYS = {"proj": "hf_proj_type", "pooler_type": "hf_pooler_type"}
_REQUIRED_TEXT = ("hf_model_name", "hf_tokenizer_name", "hf_proj_type", "hf_pooler_type", "context_length")
_OPTIONAL_TEXT = ("hf_model_pretrained", "proj_bias", "output_tokens", "vocab_size", "width", "heads", "layers")
_REQUIRED_VISION = ("timm_model_name", "image_size")
_OPTIONAL_VISION = (
    "timm_model_pretrained",
    "timm_pool",
    "timm_proj",
    "timm_proj_bias",
    "timm_drop",
    "timm_drop_path",
    "patch_dropout",
    "width",
    "layers",
    "patch_size",
)
# open_clip's pooler names -> the class it must build; checked again on the built model.
POOLER_CLASSES = {
    "cls_last_hidden_state_pooler": "ClsLastHiddenStatePooler",
    "cls_pooler": "ClsPooler",
    "mean_pooler": "MeanPooler",
    "max_pooler": "MaxPooler",
}
_PROJ_TYPES = ("mlp", "linear", None)
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode", "size", "mode", "fill_color")


@dataclass(frozen=True)
class ClipConfig:
    """A validated open_clip config in current key names, plus where it came from."""

    path: Path
    model_cfg: dict[str, Any]
    preprocess_cfg: dict[str, Any]
    legacy_keys: bool

    @property
    def text_cfg(self) -> dict[str, Any]:
        return self.model_cfg["text_cfg"]

    @property
    def vision_cfg(self) -> dict[str, Any]:
        return self.model_cfg["vision_cfg"]

    @property
    def embed_dim(self) -> int:
        return int(self.model_cfg["embed_dim"])

    @property
    def context_length(self) -> int:
        return int(self.text_cfg["context_length"])

    @property
    def image_size(self) -> int:
        size = self.vision_cfg["image_size"]
        return int(size[0] if isinstance(size, list | tuple) else size)

    def as_open_clip_json(self) -> dict[str, Any]:
        return {"model_cfg": copy.deepcopy(self.model_cfg), "preprocess_cfg": copy.deepcopy(self.preprocess_cfg)}


def _fail(path: Path, msg: str) -> MedmirError:
    return MedmirError(f"{path}: {msg}")


def _check_keys(path: Path, section: str, cfg: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]):
    missing = [k for k in required if k not in cfg]
    if missing:
        raise _fail(path, f"{section} lacks required key(s) {', '.join(missing)}")
    unknown = sorted(set(cfg) - set(required) - set(optional))
    if unknown:
        raise _fail(path, f"{section} has unknown key(s) {', '.join(unknown)}")


def parse_config(obj: Any, path: Path) -> ClipConfig:
    if not isinstance(obj, dict) or not isinstance(obj.get("model_cfg"), dict):
        raise _fail(path, "not an open_clip config: no 'model_cfg' object")
    model_cfg = copy.deepcopy(obj["model_cfg"])
    unknown_top = sorted(set(obj) - {"model_cfg", "preprocess_cfg"})
    if unknown_top:
        raise _fail(path, f"unknown top-level key(s) {', '.join(unknown_top)}")
    for key in ("embed_dim", "vision_cfg", "text_cfg"):
        if key not in model_cfg:
            raise _fail(path, f"model_cfg lacks required key {key}")
    unknown_model = sorted(set(model_cfg) - {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu", "custom_text"})
    if unknown_model:
        raise _fail(path, f"model_cfg has unknown key(s) {', '.join(unknown_model)}")

    text = model_cfg["text_cfg"]
    legacy = False
    for old, new in _LEGACY_TEXT_KEYS.items():
        if old in text:
            legacy = True
            if new in text and text[new] != text[old]:
                raise _fail(path, f"text_cfg sets both {old}={text[old]!r} and {new}={text[new]!r}")
            text[new] = text.pop(old)
    _check_keys(path, "text_cfg", text, _REQUIRED_TEXT, _OPTIONAL_TEXT)
    if text["hf_pooler_type"] not in POOLER_CLASSES:
        raise _fail(path, f"text_cfg.hf_pooler_type {text['hf_pooler_type']!r} is not one of {sorted(POOLER_CLASSES)}")
    if text["hf_proj_type"] not in _PROJ_TYPES:
        raise _fail(path, f"text_cfg.hf_proj_type {text['hf_proj_type']!r} is not 'mlp' or 'linear'")
    _check_keys(path, "vision_cfg", model_cfg["vision_cfg"], _REQUIRED_VISION, _OPTIONAL_VISION)

    pre = copy.deepcopy(obj.get("preprocess_cfg", {}))
    unknown_pre = sorted(set(pre) - set(_PREPROCESS_KEYS))
    if unknown_pre:
        raise _fail(path, f"preprocess_cfg has unknown key(s) {', '.join(unknown_pre)}")
    for key in ("mean", "std"):
        val = pre.get(key)
        if not (isinstance(val, list) and len(val) == 3 and all(isinstance(v, int | float) for v in val)):
            raise _fail(path, f"preprocess_cfg.{key} must be a list of 3 numbers, got {val!r}")
    return ClipConfig(path=path, model_cfg=model_cfg, preprocess_cfg=pre, legacy_keys=legacy)


def read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise _fail(path, "file not found") from exc
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"not valid UTF-8 JSON ({exc})") from exc


def load_config(checkpoint_dir: Path) -> ClipConfig:
    path = checkpoint_dir / CONFIG_FILE
    return parse_config(read_json(path), path)


# -- model definitions (data files under medmir/resources/models) -----------------------------------------------


def model_definitions() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in resources.files("medmir.resources.models").iterdir():
        if entry.name.endswith(".json"):
            d = json.loads(entry.read_text(encoding="utf-8"))
            out[d["name"]] = d
    return out


def model_definition(name: str) -> dict[str, Any]:
    defs = model_definitions()
    if name not in defs:
        raise MedmirError(f"unknown model definition {name!r}; known: {', '.join(sorted(defs))}")
    return defs[name]


def definition_for_text_backbone(hf_model_name: str) -> dict[str, Any] | None:
    for d in model_definitions().values():
        if hf_model_name in d.get("text_backbone", {}).get("hf_model_names", []):
            return d
    return None
