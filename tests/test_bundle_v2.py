"""Bundle format version 2 (compact int8 rows in shards, thumbnail packs, columnar metadata) against version 1 of
the same images: same rows, same neighbours, same thumbnails, and every damage caught by `medmir verify`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import BundleFactory

from medmir.bundle.compact import recall_at_k
from medmir.bundle.format import THUMB_INDEX, embedding_shard, thumb_pack
from medmir.bundle.neighbors import top_k
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.cli.main import main
from medmir.core.errors import MedmirError
from medmir.evaluate.run import evaluate
from medmir.model.pack import ModelPack
from medmir.site.build import build_site

WEB = Path(__file__).resolve().parents[1] / "web"


@pytest.fixture(scope="module")
def both(nih_bundle: BundleFactory) -> tuple[Path, Path]:
    """The whole NIH sample in format 1 and format 2."""
    return nih_bundle(None, 1), nih_bundle(None, 2)


def test_version_2_holds_what_version_1_holds(both: tuple[Path, Path]) -> None:
    v1, v2 = (Bundle.open(b) for b in both)
    assert v2.info.format_version == 2 and v2.count == v1.count == 400
    assert v2.metadata == v1.metadata
    assert v2.neighbors()["ids"] == v1.neighbors()["ids"]
    assert np.allclose(v2.neighbors()["scores"], v1.neighbors()["scores"], atol=1e-6)
    assert np.abs(v2.embeddings - v1.embeddings).max() < 0.01  # int8 rounding, nothing more
    # ranking: int8 scores stay close to float32 ones, and the top-10 mostly agree (random weights: tight scores)
    q = v1.embeddings[:50]
    assert np.abs(np.stack([v2.scores(x) for x in q]) - np.stack([v1.scores(x) for x in q])).max() < 2e-3
    found = np.stack([top_k(v2.scores(x), 10) for x in q])
    exact = np.stack([top_k(v1.scores(x), 10) for x in q])
    assert recall_at_k(found, exact) >= 0.9
    # thumbnails: the packs hold version 1's files byte for byte
    index = np.frombuffer((both[1] / THUMB_INDEX).read_bytes(), dtype="<u4").reshape(-1, 2)
    pack = (both[1] / thumb_pack(0)).read_bytes()
    for row in (0, 123, 399):
        start, length = index[row]
        assert pack[start : start + length] == (both[0] / v1.metadata[row]["thumbnail"]).read_bytes()
    assert not (both[1] / "images").exists() and not (both[1] / "embeddings.bin").exists()


def test_fallback_results_are_the_int8_ranking(both: tuple[Path, Path], tiny_pack: Path) -> None:
    b = Bundle.open(both[1])
    pack = ModelPack.open(tiny_pack)
    fb = b.fallback()
    for row in fb["queries"][:5]:
        v = pack.encode_text([row["query"]])[0]
        assert row["ids"] == top_k(b.scores(v), 10).tolist()


def test_search_and_evaluate_read_version_2(both: tuple[Path, Path], tiny_pack: Path, tmp_path: Path, capsys) -> None:
    assert main(["search", "pleural effusion", "--bundle", str(both[1]), "--model", str(tiny_pack), "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 10 and hits[0]["rank"] == 1
    copy = tmp_path / "b"
    shutil.copytree(both[1], copy)
    m = evaluate(copy, tiny_pack, n_boot=20, report=False)
    assert m["evaluated"]["bundle_images"] == 400
    verify_bundle(copy)  # evaluate's files are registered


def test_the_site_publishes_version_2(both: tuple[Path, Path], tiny_pack: Path, tmp_path: Path) -> None:
    """data/ holds index_info.json and exactly the files it lists (tests/test_site.py checks the rest)."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text("<!doctype html>")
    data = build_site(both[1], tiny_pack, tmp_path / "site", app=app).out / "data"
    listed = json.loads((both[1] / "index_info.json").read_text())["files"]
    assert sorted(p.name for p in data.iterdir() if p.suffix != ".gz") == sorted(["index_info.json", *listed])
    verify_bundle(data)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: _flip(b / embedding_shard(0), 1000), "sha256 does not match"),
        (lambda b: _truncate(b / thumb_pack(0)), "truncated or replaced"),
        (lambda b: (b / "scales.f32").unlink(), "missing"),
    ],
)
def test_damage_is_caught(both: tuple[Path, Path], tmp_path: Path, damage, message: str) -> None:
    copy = tmp_path / "b"
    shutil.copytree(both[1], copy)
    damage(copy)
    with pytest.raises(MedmirError, match=message):
        verify_bundle(copy)


def test_consistent_but_wrong_files_are_caught(both: tuple[Path, Path], tmp_path: Path) -> None:
    """Damage that index_info.json vouches for (a writer bug, not a tampered file) still fails the contract."""
    from medmir.core.fsutil import atomic_write_json, sha256_file

    copy = tmp_path / "b"
    shutil.copytree(both[1], copy)
    idx = copy / THUMB_INDEX
    data = bytearray(idx.read_bytes())
    data[8:12] = (999_999).to_bytes(4, "little")  # row 1's offset
    idx.write_bytes(bytes(data))
    info = json.loads((copy / "index_info.json").read_text())
    info["files"][THUMB_INDEX] = {"bytes": idx.stat().st_size, "sha256": sha256_file(idx)}
    atomic_write_json(copy / "index_info.json", info)
    with pytest.raises(MedmirError, match="row 1: thumbnail at 999999"):
        verify_bundle(copy)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-10])


def test_the_browser_reads_version_2_as_python_does(both: tuple[Path, Path], tmp_path: Path) -> None:
    """web/test/bundleV2.test.ts on this bundle: same top 10 and scores, same rows, same thumbnail bytes."""
    copy = tmp_path / "b"
    shutil.copytree(both[1], copy)
    b = Bundle.open(copy)
    rng = np.random.default_rng(5)
    queries = rng.normal(size=(8, b.embeddings.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    tops = [top_k(b.scores(q), 10) for q in queries]
    index = np.frombuffer((copy / THUMB_INDEX).read_bytes(), dtype="<u4").reshape(-1, 2)
    start, length = (int(v) for v in index[399])
    expect = {
        "queries": queries.tolist(),
        "top10": [t.tolist() for t in tops],
        "scores": [b.scores(q)[t].astype(float).tolist() for q, t in zip(queries, tops, strict=True)],
        "rows": {
            str(r): {k: b.metadata[r][k] for k in ("filename", "labels")} | {"patient": b.metadata[r]["patient_id"]}
            for r in (0, 57, 399)
        },
        "thumb": {"row": 399, "file": thumb_pack(0), "start": start, "end": start + length - 1},
    }
    (copy / "expect.json").write_text(json.dumps(expect))
    report = tmp_path / "vitest.json"
    cmd = ["npx", "vitest", "run", "test/bundleV2.test.ts", "--reporter=json", f"--outputFile={report}"]
    done = subprocess.run(cmd, cwd=WEB, env={**os.environ, "MEDMIR_V2_BUNDLE": str(copy)},
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(report.read_text())["testResults"][0]["assertionResults"]
    whole = [r["status"] for r in results if r["ancestorTitles"][0].startswith("a version 2 bundle Python wrote")]
    assert whole == ["passed"] * 4, results  # the ranking test runs with and without SIMD
