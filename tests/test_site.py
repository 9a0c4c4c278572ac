"""`medmir site` (assembly of bundle format 1 and 2, refusals) and `medmir serve` (MIME types, cross-origin isolation
headers)."""

from __future__ import annotations

import gzip
import json
import shutil
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP, NIH_SAMPLE, BundleFactory

from medmir.bundle.format import INFO
from medmir.bundle.verify import verify_bundle
from medmir.cli.main import main
from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json, sha256_file
from medmir.evaluate.run import evaluate
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.model.manifest import local_checkpoint
from medmir.site.build import WEB_DIST, build_site
from medmir.site.serve import make_server


@pytest.fixture(scope="module")
def small_bundle(nih_bundle: BundleFactory) -> Path:
    """Format 1 (not the default): the tests on it check version 1's files (embeddings.bin, data/images/)."""
    return nih_bundle(4, 1, labels=("Effusion",))


@pytest.fixture(scope="module")
def v2_bundle(nih_bundle: BundleFactory, tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Format 2 with shards of 2 rows and packs of 3 thumbnails, so 7 images make several of each; evaluated (a copy
    of the shared bundle), so metrics.json and hard_cases.json are listed too."""
    bundle = tmp_path_factory.mktemp("site-v2") / "bundle"
    shutil.copytree(nih_bundle(7, 2, shard_rows=2, thumbs_per_pack=3, labels=("Effusion", "Nodule")), bundle)
    evaluate(bundle, tiny_pack, n_boot=20, shuffles=5, report=False)
    return bundle


@pytest.fixture()
def app(tmp_path: Path) -> Path:
    d = tmp_path / "dist"
    (d / "assets").mkdir(parents=True)
    (d / "ort").mkdir()
    (d / "index.html").write_text("<!doctype html><title>t</title>")
    (d / "assets" / "app.js").write_text("console.log(1)")
    (d / "ort" / "ort-wasm-simd-threaded.wasm").write_bytes(b"\0asm\1\0\0\0")
    (d / "ort" / "VERSION").write_text("1.30.0\n")
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
    assert sorted(p.name for p in (site / "model").iterdir() if p.suffix != ".gz") == [
        "manifest.json", "text.int8.onnx", "vision.int8.onnx", "vocab.txt",
    ]  # fmt: skip
    assert (site / "model" / "manifest.json").read_bytes() == (tiny_pack / "manifest.json").read_bytes()
    assert (site / "data" / "images").is_dir() and not (site / "data" / "thumbs.idx").exists()
    # the app shell only: the search worker downloads, verifies and keeps every data/ and model/ file itself; the
    # runtime under the versioned URL the search worker asks for
    pre = json.loads((site / "precache.json").read_text())["files"]
    assert pre == [
        "./", "assets/app.js", "data/index_info.json", "index.html", "model/manifest.json",
        "ort/ort-wasm-simd-threaded.wasm?v=1.30.0", "sw.js",
    ]  # fmt: skip
    assert rep.total_bytes == sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


def test_site_of_a_version_2_bundle(v2_bundle: Path, tiny_pack: Path, app: Path, tmp_path: Path) -> None:
    info = json.loads((v2_bundle / INFO).read_text())
    assert info["format_version"] == 2
    listed = set(info["files"])
    expected = {"embeddings-003.i8", "neighbors-003.i32", "neighbor-scores-003.f32", "scales.f32", "thumbs-002.pack",
                "thumbs.idx", "metadata.json", "fallback_results.json", "metrics.json", "hard_cases.json"}  # fmt: skip
    assert expected <= listed  # 7 rows: 4 shards of 2 rows, 3 packs of 3 thumbnails, and the evaluation files
    assert main(["site", "--bundle", str(v2_bundle), "--model", str(tiny_pack), "--out", str(tmp_path / "site"),
                 "--app", str(app)]) == 0  # fmt: skip
    site = tmp_path / "site"
    data = site / "data"
    # exactly index_info.json and the files it lists, byte for byte: no images/, no version 1 files; beside some,
    # a precompressed copy for `medmir serve` (and hosts that serve precompressed files) to send gzip clients
    gz = sorted(p for p in site.rglob("*.gz"))
    assert "metadata.json.gz" in {p.name for p in gz}
    for p in gz:
        assert gzip.decompress(p.read_bytes()) == p.with_suffix("").read_bytes(), p
    published = sorted(p.relative_to(data).as_posix() for p in data.rglob("*") if p.suffix != ".gz")
    assert published == sorted({INFO, *listed})
    for name in (INFO, *listed):
        assert (data / name).read_bytes() == (v2_bundle / name).read_bytes(), name
    assert not (data / "images").exists() and not (data / "embeddings.bin").exists()
    verify_bundle(data)  # the published folder is a whole bundle: sizes, checksums, packs, neighbours
    assert main(["verify", str(data)]) == 0
    pre = json.loads((site / "precache.json").read_text())["files"]
    assert pre == [
        "./", "assets/app.js", "data/index_info.json", "index.html", "model/manifest.json",
        "ort/ort-wasm-simd-threaded.wasm?v=1.30.0", "sw.js",
    ]  # fmt: skip
    # the layout rule: a few files, none over 25 MB (a static host's per-file limit), whatever the collection
    files = [p for p in site.rglob("*") if p.is_file()]
    # the app's files and ort/VERSION, precache.json, parts.json and .medmir-output.json (the contracts count in data/)
    shell = len(pre) - 3 + 4
    assert len(files) == 1 + len(listed) + 4 + shell + len(gz) < 20_000
    assert max(p.stat().st_size for p in files) <= 25_000_000


def test_site_refuses_a_listed_file_outside_the_bundle(
    v2_bundle: Path, tiny_pack: Path, app: Path, tmp_path: Path
) -> None:
    """index_info.json vouches for its files by checksum; a listed path that leads out is refused, never copied."""
    bad = tmp_path / "b" / "bundle"
    shutil.copytree(v2_bundle, bad)
    (tmp_path / "b" / "secret.txt").write_text("outside the bundle")
    info = json.loads((bad / INFO).read_text())
    secret = tmp_path / "b" / "secret.txt"
    info["files"]["../secret.txt"] = {"bytes": secret.stat().st_size, "sha256": sha256_file(secret)}
    atomic_write_json(bad / INFO, info)
    verify_bundle(bad)  # the checksums hold
    with pytest.raises(MedmirError, match=r"files lists '\.\./secret\.txt', not a file name"):
        build_site(bad, tiny_pack, tmp_path / "site", app=app)
    assert not (tmp_path / "site").exists() and not (tmp_path / "secret.txt").exists()


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


def test_site_publishes_no_local_path(app: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Export from a folder under a unique marker, index, evaluate, assemble: no byte of the site names the path."""
    from medmir.evaluate.run import evaluate
    from medmir.model.checkpoint import init_random
    from medmir.model.export import export_pack

    marker = f"PRIVATE-{uuid.uuid4().hex}"
    root = tmp_path_factory.mktemp(marker)
    ckpt = root / "home" / "someone" / "biomedclip-finetuned"
    init_random(BIOMEDCLIP, ckpt, size="tiny", seed=3)
    export_pack(str(ckpt), root / "pack", log=lambda s: None)
    manifest = json.loads((root / "pack" / "manifest.json").read_text())
    assert manifest["model"]["source"] == "local:biomedclip-finetuned"
    assert local_checkpoint(root / "pack") == ckpt.resolve()  # this machine still knows where the weights are
    (root / "imgs").mkdir()
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:6]
    for n in names:
        shutil.copy(NIH_SAMPLE / "images" / n, root / "imgs" / n)
    (root / "l.csv").write_text("filename,labels\n" + "".join(f"{n},{('Effusion', 'Nodule')[i % 2]}\n"
                                                             for i, n in enumerate(names)))  # fmt: skip
    build_index(IndexOptions(root / "imgs", root / "l.csv", root / "pack", root / "bundle", workers=1))
    evaluate(root / "bundle", root / "pack", root / "report", n_boot=20, shuffles=5)
    web = WEB_DIST if (WEB_DIST / "index.html").is_file() else app  # the real app when it is built
    site = build_site(root / "bundle", root / "pack", root / "site", app=web).out
    written = [p for p in [*site.rglob("*"), *(root / "report").rglob("*")] if p.is_file()]
    assert {"data/index_info.json", "data/metrics.json", "model/manifest.json"} <= {
        p.relative_to(site).as_posix() for p in written if p.is_relative_to(site)
    }
    for p in written:
        data = p.read_bytes()
        assert marker.encode() not in data and str(root).encode() not in data, p


def test_site_refuses_a_pack_that_names_a_local_path(tiny_pack: Path, app: Path, tmp_path: Path) -> None:
    """Packs exported before sources were made public: their manifest, published as is, would leak the path."""
    old = tmp_path / "old-pack"
    shutil.copytree(tiny_pack, old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["model"]["source"] = "/home/someone/models/biomedclip"
    (old / "manifest.json").write_text(json.dumps(manifest))
    src = tmp_path / "imgs"
    src.mkdir()
    name = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[0]
    shutil.copy(NIH_SAMPLE / "images" / name, src / name)
    (tmp_path / "l.csv").write_text(f"filename,labels\n{name},Effusion\n")
    build_index(IndexOptions(src, tmp_path / "l.csv", old, tmp_path / "bundle", workers=1))
    with pytest.raises(MedmirError, match=r"records the local path '/home/someone/models/biomedclip'.*export"):
        build_site(tmp_path / "bundle", old, tmp_path / "site", app=app)
    assert not (tmp_path / "site").exists()


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


def test_large_files_are_published_in_parts(v2_bundle: Path, tiny_pack: Path, app: Path, tmp_path: Path) -> None:
    from medmir.site.parts import PARTS_FILE, join_parts

    limit = 20_000  # the tiny pack's models and the bundle's packs exceed it: several files split
    site = build_site(v2_bundle, tiny_pack, tmp_path / "site", app=app, part_bytes=limit).out
    doc = json.loads((site / PARTS_FILE).read_text())
    assert doc["format"] == "medmir-parts" and doc["part_bytes"] == limit
    assert "model/text.int8.onnx" in doc["files"]
    originals = {
        f"model/{n}": tiny_pack / n for n in ("manifest.json", "vocab.txt", "text.int8.onnx", "vision.int8.onnx")
    }
    originals |= {f"data/{n}": v2_bundle / n for n in json.loads((v2_bundle / INFO).read_text())["files"]}
    for rel, entry in doc["files"].items():
        assert not (site / rel).exists(), rel  # only the parts are published
        assert join_parts(site, rel) == originals[rel].read_bytes(), rel
        assert entry["bytes"] == originals[rel].stat().st_size
        assert len(entry["parts"]) == -(-entry["bytes"] // limit)
    assert max(p.stat().st_size for p in site.rglob("*") if p.is_file()) <= limit
    # parts are downloaded by the search worker when needed, never precached
    pre = json.loads((site / "precache.json").read_text())["files"]
    assert not any(".part-" in f or f == PARTS_FILE for f in pre)
    small = build_site(v2_bundle, tiny_pack, tmp_path / "whole", app=app).out
    assert json.loads((small / PARTS_FILE).read_text())["files"] == {}
