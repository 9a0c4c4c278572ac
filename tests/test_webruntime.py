"""The browser's INT8 text runtime from Python (onnxruntime-web WASM in Node): choice, errors, and what it records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medmir.core.errors import MedmirError
from medmir.model import webruntime
from medmir.model.pack import ModelPack


def test_runtime_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(webruntime.RUNTIME_ENV, raising=False)
    assert webruntime.web_runtime_version() is not None, "make install provides Node and web/node_modules"
    assert webruntime.resolve_runtime() == "web"
    assert webruntime.resolve_runtime("native") == "native"
    monkeypatch.setenv(webruntime.RUNTIME_ENV, "native")
    assert webruntime.resolve_runtime() == "native"
    with pytest.raises(MedmirError, match="text runtime 'wasm'"):
        webruntime.resolve_runtime("wasm")


def test_web_runtime_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webruntime.shutil, "which", lambda name: None)
    webruntime.web_runtime_version.cache_clear()
    try:
        assert webruntime.resolve_runtime("auto") == "native"
        with pytest.raises(MedmirError, match=r"needs Node\.js"):
            webruntime.resolve_runtime("web")
    finally:
        webruntime.web_runtime_version.cache_clear()


def test_web_and_native_int8_agree_to_int8_noise(tiny_pack: Path) -> None:
    pack = ModelPack.open(tiny_pack, text_runtime="web")
    texts = ["effusion", "bilateral pleural effusion with cardiomegaly", "no acute cardiopulmonary process"]
    web = pack.encode_text(texts)
    assert np.array_equal(web, pack.encode_text(texts)), "the web runtime is deterministic"
    native = pack.encode_text(texts, runtime="native")
    assert np.sum(web * native, axis=1).min() >= 0.999
    assert pack.text_runtime_label().startswith("onnxruntime-web ")
    assert pack.text_runtime_label("fp32").endswith("(native)")


def test_web_encoder_names_a_bad_model(tmp_path: Path) -> None:
    bad = tmp_path / "text.int8.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(MedmirError, match=r"text\.int8\.onnx"):
        webruntime.WebEncoder(bad, 64)


def test_cli_flag_selects_the_runtime(tiny_pack: Path, tmp_path: Path) -> None:
    from medmir.bundle.write import fallback_results

    pack = ModelPack.open(tiny_pack, text_runtime="native")
    emb = np.eye(3, pack.embed_dim, dtype=np.float32)
    assert fallback_results(pack, emb)["text_runtime"].endswith("(native)")
    out = subprocess.run(
        [sys.executable, "-m", "medmir.cli", "--text-runtime", "native", "model", "check", str(tiny_pack)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "browser vs native" not in out.stdout  # only compared when the web runtime is in use


def test_a_pack_given_by_a_relative_path(tiny_pack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Node runs in web/: a pack path relative to the user's folder must still reach it."""
    monkeypatch.chdir(tiny_pack.parent)
    relative = Path(tiny_pack.name)
    web = ModelPack.open(relative, text_runtime="web").encode_text(["effusion"])
    assert np.array_equal(web, ModelPack.open(tiny_pack, text_runtime="web").encode_text(["effusion"]))
