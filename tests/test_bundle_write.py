"""The one bundle writer: any engine that streams rows into it gets a bundle that verifies."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_bundle
from medmir.bundle.write import BundleWriter
from medmir.core.errors import MedmirError
from medmir.data.records import Record
from medmir.model.pack import ModelPack


def _webp(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8), value).save(buf, "WEBP")
    return buf.getvalue()


@pytest.mark.parametrize("version", [1, 2])
def test_rows_streamed_in_make_a_bundle_that_verifies(version: int, tiny_pack: Path, tmp_path: Path) -> None:
    pack = ModelPack.open(tiny_pack)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(6, pack.embed_dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    (tmp_path / "b").mkdir()
    writer = BundleWriter(tmp_path / "b", pack, version=version)
    for i, v in enumerate(vecs):
        rec = Record(f"img{i}.png", ("Effusion",) if i % 2 else (), patient_id=f"p{i // 2}", age=40 + i, sex="F")
        if i == 5:
            thumb = tmp_path / "t.webp"
            thumb.write_bytes(_webp(200))
            writer.add(rec, v, thumb)  # a `medmir process` thumbnail, copied
        else:
            writer.add(rec, v, _webp(i * 10))
    writer.finish(neighbors=3, image_embeddings={"precision": "fp32", "backend": "test"})
    verify_bundle(tmp_path / "b")
    b = Bundle.open(tmp_path / "b")
    assert b.info.format_version == version
    if version == 1:
        assert np.array_equal(np.asarray(b.embeddings), vecs)  # the float32 rows as streamed in
    else:
        assert np.abs(b.embeddings - vecs).max() < 0.01  # int8 rounding, nothing more
    assert [m["filename"] for m in b.metadata] == [f"img{i}.png" for i in range(6)]
    nn = b.neighbors()
    assert nn["k"] == 3 and all(i not in row for i, row in enumerate(nn["ids"]))
    assert b.thumbnail(5) == thumb.read_bytes() and b.thumbnail(2) == _webp(20)
    with pytest.raises(MedmirError, match="finish"):
        writer.add(Record("late.png", ()), vecs[0], _webp(1))


def test_bad_rows_and_empty_bundles_are_refused(tiny_pack: Path, tmp_path: Path) -> None:
    pack = ModelPack.open(tiny_pack)
    (tmp_path / "b").mkdir()
    writer = BundleWriter(tmp_path / "b", pack)
    assert writer.version == 2  # the default format
    with pytest.raises(MedmirError, match=r"x\.png: embedding of shape \(3,\)"):
        writer.add(Record("x.png", ()), np.ones(3, np.float32), _webp(1))
    with pytest.raises(MedmirError, match="would be empty"):
        writer.finish(neighbors=3, image_embeddings={})
