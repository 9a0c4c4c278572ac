"""Random-weight checkpoints in the Hugging Face layout, and loading errors that name the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP

from medmir.core.errors import MedmirError
from medmir.model.checkpoint import Source, build_model, count_parameters, load_clip, resolve_source
from medmir.model.config import load_config, parse_config

HF_FILES = {
    "open_clip_config.json", "open_clip_pytorch_model.bin", "vocab.txt", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json",
}  # fmt: skip


def test_tiny_checkpoint_has_the_hub_layout(tiny_checkpoint: Path) -> None:
    names = {p.name for p in tiny_checkpoint.iterdir()}
    assert names >= HF_FILES
    assert json.loads((tiny_checkpoint / "medmir_random_init.json").read_text())["size"] == "tiny"
    src = resolve_source(str(tiny_checkpoint))
    assert src.random_weights
    model, cfg = load_clip(src)
    assert type(model.text.pooler).__name__ == "ClsLastHiddenStatePooler"
    assert cfg.embed_dim == 64


def test_full_architecture_has_the_published_parameter_count() -> None:
    model = build_model(load_config(BIOMEDCLIP), BIOMEDCLIP)
    assert count_parameters(model) == 195_902_721
    assert type(model.text.pooler).__name__ == "ClsLastHiddenStatePooler"
    assert not hasattr(model.text.transformer, "pooler") or model.text.transformer.pooler is None


def test_legacy_key_checkpoint_loads(tiny_checkpoint: Path, tmp_path: Path) -> None:
    d = tmp_path / "legacy"
    shutil.copytree(tiny_checkpoint, d)
    cfg = json.loads((d / "open_clip_config.json").read_text())
    t = cfg["model_cfg"]["text_cfg"]
    t["proj"], t["pooler_type"] = t.pop("hf_proj_type"), t.pop("hf_pooler_type")
    (d / "open_clip_config.json").write_text(json.dumps(cfg))
    model, parsed = load_clip(resolve_source(str(d)))
    assert parsed.legacy_keys
    assert type(model.text.pooler).__name__ == "ClsLastHiddenStatePooler"


def test_truncated_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> None:
    d = tmp_path / "trunc"
    shutil.copytree(tiny_checkpoint, d)
    ckpt = d / "open_clip_pytorch_model.bin"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    with pytest.raises(MedmirError, match="truncated or corrupt") as exc:
        load_clip(resolve_source(str(d)))
    assert str(ckpt) in str(exc.value)


def test_checkpoint_with_wrong_shapes(tiny_checkpoint: Path, tmp_path: Path) -> None:
    d = tmp_path / "wrong"
    shutil.copytree(tiny_checkpoint, d)
    cfg = json.loads((d / "open_clip_config.json").read_text())
    cfg["model_cfg"]["embed_dim"] = 32
    (d / "open_clip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(MedmirError, match=r"does not match the config: .*wrong shape") as exc:
        load_clip(resolve_source(str(d)))
    assert "open_clip_pytorch_model.bin" in str(exc.value)


def test_missing_checkpoint_and_bad_source(tmp_path: Path) -> None:
    d = tmp_path / "nockpt"
    d.mkdir()
    shutil.copy(BIOMEDCLIP / "open_clip_config.json", d)
    with pytest.raises(MedmirError, match="checkpoint not found"):
        load_clip(Source(spec=str(d), dir=d, revision=None, random_weights=False))
    with pytest.raises(MedmirError, match="not a folder"):
        resolve_source(str(tmp_path / "absent"))


def test_unknown_offline_backbone_is_a_clear_error(tmp_path: Path) -> None:
    cfg = json.loads((BIOMEDCLIP / "open_clip_config.json").read_text())
    cfg["model_cfg"]["text_cfg"]["hf_model_name"] = "someone/unknown-bert"
    parsed = parse_config(cfg, tmp_path / "open_clip_config.json")
    with pytest.raises(MedmirError, match="not described by any medmir model definition"):
        build_model(parsed, BIOMEDCLIP)
