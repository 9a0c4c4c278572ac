"""open_clip config reading: both key generations, and clear errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP

from medmir.core.errors import MedmirError
from medmir.model.config import load_config, parse_config


def _cfg() -> dict:
    return json.loads((BIOMEDCLIP / "open_clip_config.json").read_text())


def test_current_and_legacy_keys_normalise_to_the_same_config() -> None:
    new = load_config(BIOMEDCLIP)
    legacy_path = BIOMEDCLIP / "open_clip_config.legacy-keys.json"
    legacy = parse_config(json.loads(legacy_path.read_text()), legacy_path)
    assert legacy.legacy_keys and not new.legacy_keys
    assert legacy.text_cfg["hf_pooler_type"] == new.text_cfg["hf_pooler_type"] == "cls_last_hidden_state_pooler"
    assert legacy.text_cfg["hf_proj_type"] == new.text_cfg["hf_proj_type"] == "mlp"
    assert "pooler_type" not in legacy.text_cfg and "proj" not in legacy.text_cfg
    assert new.embed_dim == 512 and new.context_length == 256 and new.image_size == 224


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["model_cfg"]["text_cfg"].pop("hf_pooler_type"), "lacks required key.*hf_pooler_type"),
        (lambda c: c["model_cfg"]["text_cfg"].update(hf_pooler_typo="x"), "unknown key.*hf_pooler_typo"),
        (lambda c: c["model_cfg"]["text_cfg"].update(pooler_type="mean_pooler"), "sets both pooler_type"),
        (lambda c: c["model_cfg"]["text_cfg"].update(hf_pooler_type="avg"), "is not one of"),
        (lambda c: c["model_cfg"].pop("vision_cfg"), "lacks required key vision_cfg"),
        (lambda c: c["model_cfg"]["vision_cfg"].pop("timm_model_name"), "timm_model_name"),
        (lambda c: c["preprocess_cfg"].update(mean=[0.5]), r"preprocess_cfg\.mean"),
        (lambda c: c.pop("model_cfg"), "no 'model_cfg'"),
        (lambda c: c.update(extra=1), "unknown top-level key"),
    ],
)
def test_bad_configs_name_the_file(tmp_path: Path, mutate, message: str) -> None:
    cfg = _cfg()
    mutate(cfg)
    (tmp_path / "open_clip_config.json").write_text(json.dumps(cfg))
    with pytest.raises(MedmirError, match=message) as exc:
        load_config(tmp_path)
    assert str(tmp_path / "open_clip_config.json") in str(exc.value)


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(MedmirError, match="file not found"):
        load_config(tmp_path)
    (tmp_path / "open_clip_config.json").write_bytes(b"{not json")
    with pytest.raises(MedmirError, match="not valid UTF-8 JSON"):
        load_config(tmp_path)
