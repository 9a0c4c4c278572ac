"""Loading BiomedCLIP-family checkpoints with open_clip, from the hub or a local folder in the hub's layout.

Imports torch and open_clip: used only by `medmir model export` / `init-random` (the `export` install extra).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file, staging_dir
from medmir.model.config import (
    CHECKPOINT_FILE,
    CONFIG_FILE,
    POOLER_CLASSES,
    TOKENIZER_FILES,
    ClipConfig,
    definition_for_text_backbone,
    load_config,
    model_definition,
    parse_config,
)

HF_PREFIX = "hf-hub:"
RANDOM_MARKER = "medmir_random_init.json"


@dataclass(frozen=True)
class Source:
    """A checkpoint folder in the Hugging Face layout, and how it was obtained."""

    spec: str
    dir: Path
    revision: str | None
    random_weights: bool


def resolve_source(spec: str, cache_dir: Path | None = None) -> Source:
    """`hf-hub:REPO[@REVISION]` (downloaded with huggingface_hub) or a local folder laid out like the repo."""
    if spec.startswith(HF_PREFIX):
        repo, _, revision = spec[len(HF_PREFIX) :].partition("@")
        from huggingface_hub import snapshot_download

        wanted = [CONFIG_FILE, CHECKPOINT_FILE, *TOKENIZER_FILES]
        try:
            path = Path(snapshot_download(repo, revision=revision or None, allow_patterns=wanted, cache_dir=cache_dir))
        except Exception as exc:  # the hub client raises many kinds; all mean "not obtainable"
            raise MedmirError(f"{spec}: cannot download from the Hugging Face hub ({exc})") from exc
        # snapshot folders are named by the commit they resolved to
        return Source(spec=spec, dir=path, revision=path.name, random_weights=False)
    path = Path(spec)
    if not path.is_dir():
        raise MedmirError(f"{spec}: not a folder and not an hf-hub: id")
    return Source(spec=str(path.resolve()), dir=path, revision=None, random_weights=(path / RANDOM_MARKER).exists())


def text_backbone_config(cfg: ClipConfig) -> dict[str, Any] | None:
    """The HF config of the text backbone, from medmir's model definitions when the name is known."""
    d = definition_for_text_backbone(cfg.text_cfg["hf_model_name"])
    return dict(d["text_backbone"]["config"]) if d else None


@contextmanager
def _text_tower_dir(cfg: ClipConfig, tokenizer_dir: Path) -> Iterator[str]:
    """A folder open_clip's HF text tower can be built from offline: backbone config.json + tokenizer files.

    open_clip asks the hub for the config of `hf_model_name`; when medmir knows that backbone the config comes
    from its model definition instead, so export works without network access.
    """
    name = cfg.text_cfg["hf_model_name"]
    backbone = text_backbone_config(cfg)
    if backbone is None:
        if Path(name).is_dir():
            yield name
            return
        raise MedmirError(
            f"{cfg.path}: text backbone {name!r} is not described by any medmir model definition "
            "and is not a local folder; add it to medmir/resources/models"
        )
    with tempfile.TemporaryDirectory(prefix="medmir-text-") as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(backbone), encoding="utf-8")
        for f in TOKENIZER_FILES:
            if (tokenizer_dir / f).exists():
                shutil.copyfile(tokenizer_dir / f, Path(tmp) / f)
        yield tmp


def build_model(cfg: ClipConfig, tokenizer_dir: Path, *, pretrained_text: bool = False) -> torch.nn.Module:
    """Instantiate the architecture (random weights unless `pretrained_text` loads the HF backbone's own)."""
    import transformers
    from open_clip.model import CustomTextCLIP

    transformers.logging.set_verbosity_error()  # its load report lists BERT's unused pooler: expected here

    with _text_tower_dir(cfg, tokenizer_dir) as text_dir:
        model_cfg = cfg.as_open_clip_json()["model_cfg"]
        model_cfg["text_cfg"].update(hf_model_name=text_dir, hf_tokenizer_name=text_dir)
        model_cfg["text_cfg"]["hf_model_pretrained"] = pretrained_text
        model_cfg["vision_cfg"]["timm_model_pretrained"] = False
        model_cfg.pop("custom_text", None)
        model = CustomTextCLIP(**model_cfg)
    pooler = type(model.text.pooler).__name__
    expected = POOLER_CLASSES[cfg.text_cfg["hf_pooler_type"]]
    if pooler != expected:
        raise MedmirError(f"{cfg.path}: open_clip built a {pooler}, the config asks for {expected}")
    return model.eval()


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise MedmirError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise MedmirError(f"{path}: cannot read checkpoint, the file is truncated or corrupt ({exc})") from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise MedmirError(f"{path}: not a state dict of tensors")
    if obj and next(iter(obj)).startswith("module."):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Strict load with a precise message on the first mismatches (missing, unexpected, wrong shape)."""
    sd = _read_state_dict(path)
    # transformers >= 4.31 keeps position_ids as a non-persistent buffer; older checkpoints carry it
    sd.pop("text.transformer.embeddings.position_ids", None)
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = [
        f"{k} {tuple(sd[k].shape)} != {tuple(own[k].shape)}" for k in own if k in sd and sd[k].shape != own[k].shape
    ]
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} tensor(s) of the wrong shape, e.g. {'; '.join(wrong[:3])}")
    if missing:
        problems.append(f"{len(missing)} missing, e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
    if problems:
        raise MedmirError(f"{path}: checkpoint does not match the config: " + "; ".join(problems))
    model.load_state_dict(sd, strict=True)


def load_clip(source: Source) -> tuple[torch.nn.Module, ClipConfig]:
    cfg = load_config(source.dir)
    model = build_model(cfg, source.dir)
    load_weights(model, source.dir / CHECKPOINT_FILE)
    return model, cfg


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def init_random(
    config_dir: Path, out: Path, *, size: str = "full", seed: int = 0, force: bool = False
) -> dict[str, Any]:
    """Write a random-weight checkpoint folder in exactly the Hugging Face layout of the real model.

    `size="full"` uses the config in `config_dir` (real shapes and compute); `size="tiny"` uses the tiny
    definition of the same family with `config_dir`'s tokenizer files and preprocessing.
    """
    cfg = load_config(config_dir)
    if size == "tiny":
        tiny = model_definition("biomedclip-tiny")["open_clip_config"]
        cfg = parse_config({**tiny, "preprocess_cfg": cfg.preprocess_cfg}, config_dir / CONFIG_FILE)
    elif size != "full":
        raise MedmirError(f"unknown size {size!r}: use full or tiny")
    missing = [f for f in TOKENIZER_FILES if not (config_dir / f).exists()]
    if missing:
        raise MedmirError(f"{config_dir}: lacks tokenizer file(s) {', '.join(missing)}")
    torch.manual_seed(seed)
    model = build_model(cfg, config_dir)
    n_params = count_parameters(model)
    with staging_dir(out, "model init-random", inputs=[config_dir], force=force) as tmp:
        torch.save(model.state_dict(), tmp / CHECKPOINT_FILE)
        cfg_json = cfg.as_open_clip_json()
        if size == "full":
            shutil.copyfile(config_dir / CONFIG_FILE, tmp / CONFIG_FILE)  # byte-identical to the real repo's
        else:
            (tmp / CONFIG_FILE).write_text(json.dumps(cfg_json, indent=2) + "\n", encoding="utf-8")
        for f in (*TOKENIZER_FILES, "LICENSE.md"):
            if (config_dir / f).exists():
                shutil.copyfile(config_dir / f, tmp / f)
        info = {
            "warning": "random weights: embeddings from this checkpoint are meaningless",
            "size": size,
            "seed": seed,
            "parameters": n_params,
            "checkpoint_sha256": sha256_file(tmp / CHECKPOINT_FILE),
        }
        (tmp / RANDOM_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info
