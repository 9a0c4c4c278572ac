"""Export of the tiny model: ONNX vs PyTorch parity, padding invariance, manifest, check, bad packs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from medmir.core.errors import MedmirError
from medmir.model.checkpoint import load_clip, resolve_source
from medmir.model.manifest import local_checkpoint
from medmir.model.pack import ModelPack, check_pack

TEXTS = [
    "effusion",
    "bilateral pleural effusion with cardiomegaly",
    "right upper lobe consolidation, air bronchograms; no pneumothorax. 5 mm nodule (stable).",
    " ".join(["diffuse interstitial opacities and small bilateral effusions"] * 60),  # truncated to 256
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def assert_text_parity(checkpoint: Path, pack_dir: Path) -> None:
    model, _ = load_clip(resolve_source(str(checkpoint)))
    pack = ModelPack.open(pack_dir)
    tok = pack.tokenizer
    ids = [tok.encode(t) for t in TEXTS]
    assert {len(r) for r in ids} >= {3, 256}
    with torch.no_grad():
        ref = np.concatenate([model.encode_text(torch.tensor([r]), normalize=True).numpy() for r in ids])
    sess = pack.session("text", "fp32")
    one = np.concatenate([sess.run(None, {"input_ids": np.array([r])})[0] for r in ids])
    batch = sess.run(None, {"input_ids": np.array(tok.encode_batch(TEXTS))})[0]
    padded = sess.run(None, {"input_ids": np.array(tok.encode_batch(TEXTS, pad_to=256))})[0]
    assert _cos(one, ref).min() >= 0.9999
    assert _cos(batch, ref).min() >= 0.9999  # batch > 1, padded to the longest
    assert _cos(padded, one).min() >= 0.9999  # padded to 256 == unpadded
    assert np.allclose(np.linalg.norm(one, axis=1), 1, atol=1e-5)


def assert_vision_parity(checkpoint: Path, pack_dir: Path) -> None:
    model, _ = load_clip(resolve_source(str(checkpoint)))
    pack = ModelPack.open(pack_dir)
    x = np.random.default_rng(3).standard_normal((3, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        ref = model.encode_image(torch.from_numpy(x), normalize=True).numpy()
    got = pack.encode_pixels(x, "fp32")
    one = pack.encode_pixels(x[:1], "fp32")
    assert _cos(got, ref).min() >= 0.9999
    assert _cos(one, ref[:1]).min() >= 0.9999


def test_text_parity_tiny(tiny_checkpoint: Path, tiny_pack: Path) -> None:
    assert_text_parity(tiny_checkpoint, tiny_pack)


def test_vision_parity_tiny(tiny_checkpoint: Path, tiny_pack: Path) -> None:
    assert_vision_parity(tiny_checkpoint, tiny_pack)


def test_manifest_records_everything(tiny_pack: Path, tiny_checkpoint: Path) -> None:
    m = json.loads((tiny_pack / "manifest.json").read_text())
    assert m["model"]["random_weights"] is True
    # the manifest is published with every site: the folder's name only; its path stays beside it, unlisted
    assert m["model"]["source"] == "local:tiny" and str(tiny_checkpoint.parent) not in json.dumps(m)
    assert local_checkpoint(tiny_pack) == tiny_checkpoint.resolve() and "local_source.json" not in m["files"]
    assert m["model"]["context_length"] == 256 and m["model"]["vocab_rows"] == 28895
    tok = m["tokenizer"]
    assert tok["lowercase"] and tok["strip_accents"] and tok["max_chars_per_word"] == 100
    assert tok["special_tokens"]["pad"]["id"] == 0 and tok["special_tokens"]["sep"]["id"] == 3
    pre = m["preprocess"]
    assert pre["image_size"] == 224
    assert pre["mean"] == [0.48145466, 0.4578275, 0.40821073]
    assert [s["op"] for s in pre["steps"]] == ["to_rgb", "resize_shorter_side", "center_crop", "scale", "normalize"]
    assert set(m["files"]) == {"text.onnx", "text.int8.onnx", "vision.onnx", "vision.int8.onnx", "vocab.txt"}
    for name, meta in m["files"].items():
        assert (tiny_pack / name).stat().st_size == meta["bytes"]
    for key in ("text_fp32_onnx_vs_torch", "text_fp32_padded256_vs_unpadded", "vision_fp32_onnx_vs_torch"):
        assert m["parity"][key]["min_cosine"] >= 0.9999
    assert m["models"]["text"]["quantization"]["embedding_tables"]["tables"]


def test_word_embeddings_trimmed_to_vocab(tiny_pack: Path) -> None:
    import onnx

    model = onnx.load(str(tiny_pack / "text.onnx"))
    shapes = [tuple(t.dims) for t in model.graph.initializer]
    assert (28895, 64) in shapes and (30522, 64) not in shapes


def test_check_passes_and_cli(tiny_pack: Path) -> None:
    results = check_pack(tiny_pack)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    proc = subprocess.run([sys.executable, "-m", "medmir.cli", "model", "check", str(tiny_pack)], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


def test_tampered_pack_fails_check(tiny_pack: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(tiny_pack, bad)
    with (bad / "vision.int8.onnx").open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    results = check_pack(bad)
    failed = [r for r in results if not r.ok]
    assert failed and "vision.int8.onnx" in failed[0].detail and "sha256" in failed[0].detail
    proc = subprocess.run([sys.executable, "-m", "medmir.cli", "model", "check", str(bad)], capture_output=True)
    assert proc.returncode == 1
    assert b"vision.int8.onnx" in proc.stderr
    with pytest.raises(MedmirError, match=r"vision\.int8\.onnx.*sha256"):
        ModelPack.open(bad)


def test_truncated_pack_file(tiny_pack: Path, tmp_path: Path) -> None:
    bad = tmp_path / "trunc"
    shutil.copytree(tiny_pack, bad)
    (bad / "vocab.txt").write_bytes((bad / "vocab.txt").read_bytes()[:100])
    with pytest.raises(MedmirError, match=r"vocab\.txt: 100 bytes"):
        ModelPack.open(bad)


def test_failed_export_leaves_nothing_behind(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from medmir.model.export import export_pack

    src = tmp_path / "src"
    shutil.copytree(tiny_checkpoint, src)
    (src / "open_clip_pytorch_model.bin").write_bytes(b"not a checkpoint")
    out = tmp_path / "out"
    with pytest.raises(MedmirError, match="truncated or corrupt"):
        export_pack(str(src), out, log=lambda s: None)
    assert list(tmp_path.iterdir()) == [src]


def test_export_failure_keeps_the_previous_pack(
    tiny_checkpoint: Path, tiny_pack: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the staging folder exists must not touch the pack already at `out`."""
    from medmir.model import export as export_mod

    out = tmp_path / "pack"
    shutil.copytree(tiny_pack, out)
    before = sorted((p.name, p.stat().st_size) for p in out.iterdir())

    def boom(*a: object, **k: object) -> None:
        raise MedmirError("simulated failure while quantizing")

    monkeypatch.setattr(export_mod, "quantize_int8", boom)
    with pytest.raises(MedmirError, match="simulated"):
        export_mod.export_pack(str(tiny_checkpoint), out, log=lambda s: None)
    assert sorted((p.name, p.stat().st_size) for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]


def test_pack_refuses_rows_past_the_context_length(tiny_pack: Path) -> None:
    pack = ModelPack.open(tiny_pack)
    with pytest.raises(MedmirError, match=r"1\.\.256 ids, got a row of 300"):
        pack.encode_ids([[2] + [1000] * 298 + [3]])
    assert pack.encode_text(["effusion", "pleural effusion", "edema"]).shape == (3, 64)


def test_cli_tokenize_with_a_pack(tiny_pack: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "medmir.cli", "tokenize", "--model", str(tiny_pack)],
        input=b"Pleural effusion\nCardiomegaly [SEP]",
        capture_output=True,
        check=True,
    )
    tok = ModelPack.open(tiny_pack).tokenizer
    assert proc.stdout.decode().splitlines() == [
        json.dumps(tok.encode("Pleural effusion")),
        json.dumps(tok.encode("Cardiomegaly [SEP]")),
    ]


def test_hub_source_offline_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from medmir.model.checkpoint import resolve_source

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MedmirError, match=r"hf-hub:microsoft/BiomedCLIP.*@abc123: cannot download"):
        resolve_source("hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224@abc123", cache_dir=tmp_path)


def test_int8_results_do_not_depend_on_batch_mates(tiny_pack: Path) -> None:
    """Dynamic quantization scales activations per run: medmir runs INT8 one row at a time, like the browser."""
    pack = ModelPack.open(tiny_pack)
    texts = ["left effusion", "right edema", "small nodule"]  # equal token counts
    together = pack.encode_text(texts, "int8")
    alone = np.concatenate([pack.encode_text([t], "int8") for t in texts])
    assert np.array_equal(together, alone)
    x = np.random.default_rng(5).standard_normal((3, 3, 224, 224)).astype(np.float32)
    assert np.array_equal(
        pack.encode_pixels(x, "int8"), np.concatenate([pack.encode_pixels(x[i : i + 1], "int8") for i in range(3)])
    )
