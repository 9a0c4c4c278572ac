"""`medmir site` (assembly, refusals) and `medmir serve` (MIME types, cross-origin isolation headers)."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import NIH_SAMPLE

from medmir.errors import MedmirError
from medmir.index import build_index
from medmir.site import build_site, make_server


@pytest.fixture(scope="module")
def small_bundle(tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    src = root / "imgs"
    src.mkdir()
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:4]
    for n in names:
        shutil.copy(NIH_SAMPLE / "images" / n, src / n)
    (root / "l.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in names))
    build_index(src, root / "l.csv", tiny_pack, root / "bundle", progress=False, workers=1)
    return root / "bundle"


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "ort").mkdir()
    (d / "index.html").write_text("<!doctype html><title>t</title>")
    (d / "assets" / "app.js").write_text("console.log(1)")
    (d / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"\0asm\1\0\0\0")
    (d / "sw.js").write_text("")
    return d


def test_site_layout(small_bundle: Path, tiny_pack: Path, app: Path, tmp_path: Path) -> None:
    rep = build_site(small_bundle, tiny_pack, tmp_path / "site", app=app)
    site = rep.out
    assert (site / "index.html").is_file() and (site / "ort" / "ort-wasm-simd-threaded.wasm").is_file()
    for name in (
        "index_info.json",
        "embeddings.bin",
        "metadata.json",
        "nearest_neighbors.json",
        "fallback_results.json",
    ):
        assert (site / "data" / name).read_bytes() == (small_bundle / name).read_bytes()
    assert sorted(p.name for p in (site / "model").iterdir()) == [
        "manifest.json", "text.int8.onnx", "vision.int8.onnx", "vocab.txt",
    ]  # fmt: skip
    assert (site / "model" / "manifest.json").read_bytes() == (tiny_pack / "manifest.json").read_bytes()
    pre = json.loads((site / "precache.json").read_text())["files"]
    assert "index.html" in pre and "ort/ort-wasm-simd-threaded.wasm" in pre
    assert not [f for f in pre if f.endswith(".onnx") or f.endswith("embeddings.bin") or f.startswith("data/images/")]
    assert rep.total_bytes == sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def test_site_refusals(small_bundle: Path, tiny_pack: Path, full_pack: Path, app: Path, tmp_path: Path) -> None:
    with pytest.raises(MedmirError, match="web app is not built"):
        build_site(small_bundle, tiny_pack, tmp_path / "s1", app=tmp_path / "nothing")
    with pytest.raises(MedmirError, match="not the pack"):
        build_site(small_bundle, full_pack, tmp_path / "s2", app=app)
    bad = tmp_path / "bad"
    shutil.copytree(small_bundle, bad)
    (bad / "embeddings.bin").write_bytes((bad / "embeddings.bin").read_bytes()[:-4])
    with pytest.raises(MedmirError, match=r"embeddings\.bin"):
        build_site(bad, tiny_pack, tmp_path / "s3", app=app)
    assert not (tmp_path / "s3").exists()


def test_serve_headers_and_mime(small_bundle: Path, tiny_pack: Path, app: Path, tmp_path: Path) -> None:
    site = build_site(small_bundle, tiny_pack, tmp_path / "site", app=app).out
    server = make_server(site, port=0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ort/ort-wasm-simd-threaded.wasm") as r:
            assert r.headers["Content-Type"] == "application/wasm"
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/data/images/")
        thumb = next((site / "data" / "images").iterdir()).name
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/images/{thumb}") as r:
            assert r.headers["Content-Type"] == "image/webp"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(MedmirError, match="not a medmir site"):
        make_server(tmp_path)
