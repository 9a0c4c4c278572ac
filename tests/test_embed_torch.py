"""The PyTorch embedding backend (`medmir index --device cuda`), checked on the CPU with the tiny random model."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import NIH_SAMPLE
from PIL import Image

from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError
from medmir.imaging.decode import load_image, preprocess_for_model
from medmir.index.cache import EmbeddingCache
from medmir.index.embed.onnx import embed_images
from medmir.index.embed.torch import (
    ImageFiles,
    TorchEncoder,
    decode_gray,
    embed_images_torch,
    gray_to_pixels,
    pack_checkpoint,
    resolve_device,
)
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.model.manifest import local_checkpoint, write_local_source
from medmir.model.pack import ModelPack

WORKERS = 2


def _mode(p: Path) -> str:
    with Image.open(p) as im:
        return im.mode


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """11 grayscale NIH originals and one RGBA one (the sample's odd format), copied so tests may add files."""
    src = sorted((NIH_SAMPLE / "images").iterdir())
    rgba = next(p for p in src if _mode(p) == "RGBA")
    gray = [p for p in src if _mode(p) == "L"][:11]
    out = tmp_path_factory.mktemp("images")
    paths = []
    for p in [*gray[:6], rgba, *gray[6:]]:
        shutil.copyfile(p, out / p.name)
        paths.append(out / p.name)
    return paths


@pytest.fixture(scope="module")
def pack(tiny_pack: Path) -> ModelPack:
    return ModelPack.open(tiny_pack)


@pytest.fixture(scope="module")
def encoder(pack: ModelPack) -> TorchEncoder:
    return TorchEncoder.from_pack(pack, device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def onnx_fp32(images: list[Path], pack: ModelPack) -> np.ndarray:
    out = list(embed_images(images, pack, precision="fp32", workers=WORKERS))
    return np.stack([e.vector for e in out])


def _run(paths: list[Path], encoder: TorchEncoder, **kw) -> list:
    kw.setdefault("workers", WORKERS)
    return list(embed_images_torch(paths, encoder, **kw))


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_exact_mode_matches_onnx_fp32(images: list[Path], encoder: TorchEncoder, onnx_fp32: np.ndarray) -> None:
    out = _run(images, encoder, batch_size=5)
    assert [e.index for e in out] == list(range(len(images)))
    assert all(e.error is None and not e.cached and e.thumbnail is None for e in out)
    vecs = np.stack([e.vector for e in out])
    assert vecs.dtype == np.float32 and vecs.shape == (len(images), 64)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert _cos(vecs, onnx_fp32).min() >= 0.9999  # same weights, same input pixels: equal up to float rounding


def test_fast_mode_matches_exact(images: list[Path], encoder: TorchEncoder, onnx_fp32: np.ndarray) -> None:
    out = _run(images, encoder, preprocess="fast", batch_size=8)
    assert [e.index for e in out] == list(range(len(images)))
    vecs = np.stack([e.vector for e in out])
    assert _cos(vecs, onnx_fp32).min() >= 0.999


def test_fast_mode_routes_grayscale_to_the_device(images: list[Path], pack: ModelPack) -> None:
    spec = pack.preprocess
    fast = ImageFiles(images, spec, mode="fast")
    exact = ImageFiles(images, spec, mode="exact")
    kinds = [fast[i][2] for i in range(len(images))]
    assert kinds == ["exact" if _mode(p) == "RGBA" else "gray" for p in images]  # RGBA: the exact path
    assert {exact[i][2] for i in range(len(images))} == {"exact"}
    meta, arr, _ = fast[0]
    assert arr.dtype == np.uint8 and arr.shape == (1024, 1024) and meta.sha and meta.index == 0


def test_gray_to_pixels_is_pillow_to_one_grey_level(images: list[Path], pack: ModelPack) -> None:
    spec = pack.preprocess
    std = np.asarray(spec.std, np.float32)[:, None, None]
    rng = np.random.default_rng(0)
    noise = [Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L") for w, h in ((300, 200), (150, 401))]
    for img in [Image.open(images[0]), *noise]:
        want = preprocess_for_model(img.convert("RGB"), spec)
        got = gray_to_pixels(torch.from_numpy(np.array(img))[None], spec)[0].numpy()
        assert got.shape == want.shape == (3, 224, 224)
        levels = np.abs(got - want) * std * 255
        assert levels.max() < 1.01 and (levels > 0.5).mean() < 0.005


def test_fast_decode_of_16_bit_grayscale_follows_load_image(tmp_path: Path) -> None:
    a = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 13) % 4096  # 12-bit data in 16 bits
    path = tmp_path / "x16.png"
    Image.fromarray(a.astype(np.uint16)).save(path)
    img = decode_gray(path.read_bytes())
    assert img is not None and img.mode == "L"
    assert np.array_equal(np.asarray(img), np.asarray(load_image(path))[..., 0])


def test_errors_are_entries_in_order(images: list[Path], encoder: TorchEncoder, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(images[0].read_bytes()[:20_000])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    paths = [images[0], corrupt, images[1], tmp_path / "missing.png", images[6], empty, images[2]]
    for mode in ("exact", "fast"):
        out = _run(paths, encoder, preprocess=mode, batch_size=2)
        assert [e.index for e in out] == list(range(len(paths)))
        errors = {e.index: e.error for e in out if e.error}
        assert set(errors) == {1, 3, 5}
        assert "truncated" in errors[1] or "corrupt" in errors[1]
        assert "cannot read" in errors[3] and "empty file" in errors[5]
        assert all(out[i].vector is None for i in errors)
        assert all(out[i].vector is not None for i in (0, 2, 4, 6))


def test_cache_hits_on_a_rerun(images: list[Path], encoder: TorchEncoder, pack: ModelPack, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, pack, "fp32", key_suffix="torch-fp32-exact")
    assert cache.path.name.endswith("-torch-fp32-exact.sqlite")
    first = _run(images[:5], encoder, cache=cache)
    again = _run(images[:5], encoder, cache=cache, thumbnails=True)
    cache.close()
    assert not any(e.cached for e in first) and all(e.cached for e in again)
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(first, again, strict=True))
    assert all(e.thumbnail for e in again)  # cached rows still get thumbnails when asked
    # the default key is unchanged, so the onnxruntime cache is a different file
    plain = EmbeddingCache(tmp_path, pack, "fp32")
    assert plain.path.name.endswith("-fp32.sqlite") and plain.path != cache.path
    plain.close()


def test_thumbnails_equal_the_onnxruntime_paths(images: list[Path], encoder: TorchEncoder, pack: ModelPack) -> None:
    some = [images[0], images[6]]  # grayscale and RGBA
    want = [e.thumbnail for e in embed_images(some, pack, thumbnails=True, workers=WORKERS)]
    for mode in ("exact", "fast"):
        got = [e.thumbnail for e in _run(some, encoder, thumbnails=True, preprocess=mode)]
        assert got == want and all(want)


def test_in_process_decoding(images: list[Path], encoder: TorchEncoder, onnx_fp32: np.ndarray) -> None:
    out = _run(images[:3], encoder, workers=0)
    assert _cos(np.stack([e.vector for e in out]), onnx_fp32[:3]).min() >= 0.9999


def test_checkpoint_must_be_the_packs(pack: ModelPack, tiny_checkpoint: Path, tmp_path: Path) -> None:
    assert pack_checkpoint(pack) == local_checkpoint(pack.dir) == tiny_checkpoint.resolve()
    assert pack_checkpoint(pack, tiny_checkpoint) == tiny_checkpoint
    moved_pack = tmp_path / "moved-pack"
    shutil.copytree(pack.dir, moved_pack)
    write_local_source(moved_pack, tmp_path / "x")  # the checkpoint folder is gone since the export
    with pytest.raises(MedmirError, match="which is not there: pass --checkpoint"):
        pack_checkpoint(ModelPack.open(moved_pack))
    other = tmp_path / "other"
    shutil.copytree(tiny_checkpoint, other)
    with (other / "open_clip_pytorch_model.bin").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(MedmirError, match="differs from the pack's checkpoint_sha256"):
        pack_checkpoint(pack, other)
    with pytest.raises(MedmirError, match="not a folder"):
        pack_checkpoint(pack, tmp_path / "nope")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without a GPU")
def test_no_cuda_is_a_clear_error(tiny_pack: Path, tmp_path: Path) -> None:
    msg = r"--device cuda: no CUDA device \(torch.cuda.is_available\(\) is False\)"
    with pytest.raises(MedmirError, match=msg):
        resolve_device("cuda")
    with pytest.raises(MedmirError, match=msg):
        build_index(IndexOptions(tmp_path, tmp_path / "labels.csv", tiny_pack, tmp_path / "b", device="cuda"))


def test_bad_options(tiny_pack: Path, tmp_path: Path) -> None:
    def index(**kw) -> None:
        build_index(IndexOptions(tmp_path, tmp_path / "labels.csv", tiny_pack, tmp_path / "b", **kw))

    with pytest.raises(MedmirError, match="--preprocess fast needs --device cuda"):
        index(preprocess_mode="fast")
    with pytest.raises(MedmirError, match="--checkpoint is only used with --device cuda"):
        index(checkpoint=tmp_path)
    with pytest.raises(MedmirError, match="--precision int8 selects an ONNX model"):
        index(backend="torch", precision="int8")
    with pytest.raises(MedmirError, match="--dtype fp8"):
        index(backend="torch", torch_dtype="fp8")
    with pytest.raises(MedmirError, match="--preprocess slow"):
        index(backend="torch", preprocess_mode="slow")
    with pytest.raises(MedmirError, match="onnxruntime backend runs on the CPU only"):
        index(backend="onnxruntime", device="cuda")
    with pytest.raises(MedmirError, match="--device tpu"):
        resolve_device("tpu")


@pytest.fixture(scope="module")
def dataset(images: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ds")
    shutil.copytree(images[0].parent, folder / "images")
    (folder / "images" / "zz_corrupt.png").write_bytes(images[0].read_bytes()[:30_000])
    names = [p.name for p in images] + ["zz_corrupt.png"]
    (folder / "labels.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in names))
    return folder / "images", folder / "labels.csv"


def _info(bundle: Path) -> dict:
    return json.loads((bundle / "index_info.json").read_text())


def test_build_index_cpu_keeps_onnxruntime(dataset: tuple[Path, Path], tiny_pack: Path, tmp_path: Path) -> None:
    rep = build_index(IndexOptions(*dataset, tiny_pack, tmp_path / "b", neighbors=3, workers=WORKERS))
    verify_bundle(tmp_path / "b")
    assert rep.count == 12 and len(rep.skipped) == 1
    emb = _info(tmp_path / "b")["image_embeddings"]
    assert emb == {
        "precision": "fp32",
        "backend": "onnxruntime",
        "device": "cpu",
        "dtype": "float32",
        "preprocess": "exact",
        "source": "original images (the --images folder), not the thumbnails",
    }


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_build_index_torch_backend_on_cpu(
    mode: str, dataset: tuple[Path, Path], tiny_pack: Path, onnx_fp32: np.ndarray, tmp_path: Path
) -> None:
    # bundle format 1: its float32 embeddings.bin holds the torch rows as they came, for the comparisons below
    kw = {"neighbors": 3, "workers": WORKERS, "backend": "torch", "torch_dtype": "fp32",
          "bundle_format": 1}  # fmt: skip
    rep = build_index(
        IndexOptions(*dataset, tiny_pack, tmp_path / "b", cache_dir=tmp_path / "cache", preprocess_mode=mode, **kw)
    )
    assert verify_bundle(tmp_path / "b")
    assert rep.count == 12 and rep.embedded == 12 and len(rep.skipped) == 1
    info = _info(tmp_path / "b")
    assert info["image_embeddings"] == {
        "precision": "fp32",
        "backend": "torch",
        "device": "cpu",
        "dtype": "float32",
        "preprocess": mode,
        "source": "original images (the --images folder), not the thumbnails",
    }
    emb = np.fromfile(tmp_path / "b" / "embeddings.bin", dtype="<f4").reshape(12, 64)
    assert _cos(emb, onnx_fp32).min() >= 0.999  # same file order: the labels list the images in fixture order
    names = [p.name for p in (tmp_path / "cache").iterdir()]
    assert len(names) == 1 and names[0].endswith(f"-torch-fp32-{mode}.sqlite")
    again = build_index(
        IndexOptions(*dataset, tiny_pack, tmp_path / "b2", cache_dir=tmp_path / "cache", preprocess_mode=mode, **kw)
    )
    assert again.cached == 12 and again.embedded == 0
    assert (tmp_path / "b2" / "embeddings.bin").read_bytes() == (tmp_path / "b" / "embeddings.bin").read_bytes()


def test_png_bytes_helper_roundtrip() -> None:
    # decode_gray declines what it does not handle, leaving the decision (and message) to load_image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    assert decode_gray(buf.getvalue()) is None
    assert decode_gray(b"not an image") is None
