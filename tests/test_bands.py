"""Score bands (index_info.json `score_bands`): read off each bundle's own neighbour and fallback scores at index
time, in both formats, checked by `medmir verify`, recomputed by `medmir index --update`, and read by the API and
`medmir search` into each result's `band`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BundleFactory

import medmir
from medmir.bundle.bands import BANDS, METHOD, band, check_score_bands, score_bands
from medmir.bundle.files import read_json_file
from medmir.bundle.format import INFO
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError
from medmir.index.update import update_index


def _fallback(*lists: list[float]) -> dict:
    return {"queries": [{"scores": s} for s in lists]}


def test_bands_are_the_documented_quantiles() -> None:
    rng = np.random.default_rng(3)
    nn = -np.sort(-rng.uniform(0.2, 0.95, size=(200, 5)), axis=1)  # best first
    text = [sorted(rng.uniform(0.1, 0.5, size=10).tolist(), reverse=True) for _ in range(59)]
    got = score_bands(nn, _fallback(*text))
    assert got["method"] == METHOD and check_score_bands(got) is None
    assert got["image"] == pytest.approx(
        {"close": np.median(nn[:, 0]), "similar": np.median(nn[:, -1]), "related": np.quantile(nn[:, -1], 0.1)},
        abs=1e-6,
    )
    best, kth = np.array([t[0] for t in text]), np.array([t[-1] for t in text])
    assert got["text"] == pytest.approx(
        {"close": np.median(best), "similar": np.median(kth), "related": np.quantile(kth, 0.1)}, abs=1e-6
    )
    # one image: no neighbours, so no image bands; the text bands stand
    one = score_bands(np.zeros((1, 0), np.float32), _fallback([0.3], [0.2]))
    assert one["image"] is None and one["text"] == {"close": 0.25, "similar": 0.25, "related": 0.21}


def test_int8_scores_above_one_give_bands_of_at_most_one() -> None:
    """Dequantized int8 dot products of duplicate images reach 1.003: the bands stay cosines, and verify."""
    nn = np.array([[1.0035, 1.0035, 0.98], [1.0035, 0.99, 0.97], [0.9, 0.8, 0.7]], np.float32)
    got = score_bands(nn, _fallback([0.3, 0.2]))
    assert got["image"]["close"] == 1.0 and check_score_bands(got) is None


def test_band_of_a_score() -> None:
    bands = {"image": {"close": 0.9, "similar": 0.8, "related": 0.7}, "text": None, "method": METHOD}
    got = [band(s, bands, "image") for s in (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.69, -1.0)]
    assert got == ["close", "close", "similar", "similar", "related", "related", "", ""]
    assert band(0.99, bands, "text") == "" and band(0.99, None, "image") == ""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([], "an object"),
        ({"image": None, "text": None}, "an object"),
        ({"image": [1], "text": None, "method": "m"}, "object or null"),
        ({"image": {"close": 0.9, "similar": "0.8", "related": 0.7}, "text": None, "method": "m"}, "finite numbers"),
        ({"image": {"close": float("nan"), "similar": 0.8, "related": 0.7}, "text": None, "method": "m"}, "finite"),
        ({"image": {"close": 1.5, "similar": 0.8, "related": 0.7}, "text": None, "method": "m"}, r"\[-1, 1\]"),
        ({"image": None, "text": {"close": 0.2, "similar": 0.3, "related": 0.1}, "method": "m"}, "close >= similar"),
    ],
)
def test_malformed_bands_are_named(bad: object, message: str) -> None:
    import re

    why = check_score_bands(bad)
    assert why is not None and re.search(message, why), why


@pytest.fixture(scope="module")
def bundles(nih_bundle: BundleFactory) -> dict[int, Path]:
    """12 NIH images in both formats (version 2 in shards and thumbnail packs of 4 rows)."""
    return {v: nih_bundle(12, v, shard_rows=4, thumbs_per_pack=4) for v in (1, 2)}


def _stored_bands(b: Bundle) -> dict:
    return score_bands(np.asarray(b.neighbors()["scores"], np.float64), b.fallback())


@pytest.mark.parametrize("version", [1, 2])
def test_both_formats_store_bands_of_their_own_scores(bundles: dict[int, Path], version: int) -> None:
    b = Bundle.open(bundles[version])
    got = b.info.score_bands
    assert check_score_bands(got) is None and got["method"] == METHOD
    for kind in ("image", "text"):
        vals = [got[kind][x] for x in BANDS]
        assert all(-1 <= v <= 1 for v in vals) and vals == sorted(vals, reverse=True)
        assert got[kind] == pytest.approx(_stored_bands(b)[kind], abs=1e-6)
    assert any("score bands" in line for line in verify_bundle(bundles[version]))
    # the image bands come from the same float32 neighbour scores in both formats
    assert got["image"] == Bundle.open(bundles[3 - version]).info.score_bands["image"]


@pytest.mark.parametrize("version", [1, 2])
def test_verify_checks_the_bands(bundles: dict[int, Path], version: int, tmp_path: Path) -> None:
    def edited(change) -> Path:  # type: ignore[no-untyped-def]
        out = tmp_path / f"b{len(list(tmp_path.iterdir()))}"
        shutil.copytree(bundles[version], out)
        info = read_json_file(out / INFO)
        change(info)
        (out / INFO).write_text(json.dumps(info))
        return out

    def swap(info: dict) -> None:
        t = info["score_bands"]["text"]
        t["close"], t["related"] = t["related"], t["close"]

    def nudge(info: dict) -> None:
        info["score_bands"]["image"]["related"] -= 0.01

    with pytest.raises(MedmirError, match="close >= similar >= related"):
        verify_bundle(edited(swap))
    with pytest.raises(MedmirError, match="bundle's own scores"):
        verify_bundle(edited(nudge))
    older = edited(lambda info: info.pop("score_bands"))  # a bundle written before the bands: still valid
    assert any("none" in line for line in verify_bundle(older) if line.startswith("score bands"))


def test_update_recomputes_the_bands(bundles: dict[int, Path], tiny_pack: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(bundles[2], bundle)
    info = read_json_file(bundle / INFO)
    info["score_bands"] = {"image": {"close": 1.0, "similar": 1.0, "related": 1.0}, "text": None, "method": "old"}
    (bundle / INFO).write_text(json.dumps(info))
    verify_bundle(bundle)  # another method's bands are checked for form only
    first = Bundle.open(bundle).metadata[0]["filename"]
    update_index(bundle, tiny_pack, remove={first})
    verify_bundle(bundle)
    after = Bundle.open(bundle)
    assert after.count == 11 and after.info.score_bands["method"] == METHOD
    for kind in ("image", "text"):
        assert after.info.score_bands[kind] == pytest.approx(_stored_bands(after)[kind], abs=1e-6)


def test_results_carry_their_band(bundles: dict[int, Path], tiny_pack: Path) -> None:
    bands = Bundle.open(bundles[2]).info.score_bands
    with medmir.open(bundles[2], tiny_pack) as col:
        similar = [r for row in range(col.count) for r in col.similar(row)]
        assert all(r.band == band(r.score, bands, "image") for r in similar)
        assert {"close", "similar"} <= {r.band for r in similar}, "half the rows' best neighbours are close"
        image = col.search(3, k=3)  # a row as the query: itself first, at the top of the image scale
        assert image[0].row == 3 and image[0].band == "close"
        assert all(r.band == band(r.score, bands, "image") for r in image)
        queries = [q["query"] for q in col.bundle.fallback()["queries"][:8]]
        text = [r for rs in col.search_many(queries, k=10) for r in rs]
        assert all(r.band == band(r.score, bands, "text") for r in text)
        assert [r.band for r in col.search(queries[0], k=10)] == [r.band for r in text[:10]]
        assert {r.band for r in text} != {""}, "fallback queries score in their own bands"
    cmd = [sys.executable, "-m", "medmir.cli", "search", queries[0], "--bundle", str(bundles[2]), "--model",
           str(tiny_pack), "--json", "--k", "10"]  # fmt: skip
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert [o["band"] for o in out] == [band(o["score"], bands, "text") for o in out]
