"""Ranking a query against a bundle: the Python twin of the browser's ranking, and its parity oracle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medmir.bundle.neighbors import top_k
from medmir.bundle.read import Bundle
from medmir.errors import MedmirError
from medmir.model.pack import ModelPack, Precision, check_indexed_with


@dataclass(frozen=True)
class Hit:
    rank: int
    id: int
    filename: str
    score: float
    labels: list[str]

    def as_json(self) -> dict:
        return {"rank": self.rank, "filename": self.filename, "score": round(self.score, 6), "labels": self.labels}


OTHER_MODEL_HINT = "; use that pack (or, knowing the scores mean nothing, --allow-other-model)"


def check_compatible(bundle: Bundle, pack: ModelPack, *, allow_other_model: bool = False) -> None:
    """Ranking needs the pack the bundle was indexed with; `allow_other_model` only needs the same width."""
    if not allow_other_model:
        check_indexed_with(pack, bundle.info, bundle.dir, hint=OTHER_MODEL_HINT)
    if int(bundle.info["dim"]) != pack.embed_dim:
        raise MedmirError(
            f"{bundle.dir}: {bundle.info['dim']}-d embeddings, the pack at {pack.dir} makes {pack.embed_dim}"
        )


def rank(bundle: Bundle, query: np.ndarray, k: int = 10) -> list[Hit]:
    """Top k by dot product; ties by lower row, as the bundle contract says."""
    if k < 1:
        raise MedmirError(f"k must be at least 1, got {k}")
    scores = bundle.scores(query)
    return [
        Hit(rank=r + 1, id=int(i), filename=bundle.metadata[i]["filename"], score=float(scores[i]),
            labels=list(bundle.metadata[i]["labels"]))
        for r, i in enumerate(top_k(scores, k))
    ]  # fmt: skip


def search_text(
    bundle: Bundle,
    pack: ModelPack,
    text: str,
    k: int = 10,
    precision: Precision = "int8",
    *,
    allow_other_model: bool = False,
) -> list[Hit]:
    check_compatible(bundle, pack, allow_other_model=allow_other_model)
    return rank(bundle, query_embedding(pack, text, None, precision), k)


def query_embedding(pack: ModelPack, text: str | None, image: Path | None, precision: Precision = "int8") -> np.ndarray:
    """The vector a text or image query is ranked with (for parity checks against the browser)."""
    if image is not None:
        from medmir.images import load_image, preprocess_for_model

        return pack.encode_pixels(
            preprocess_for_model(load_image(image), pack.manifest["preprocess"])[None], precision
        )[0]
    if not text or not text.strip():
        raise MedmirError("empty query")
    return pack.encode_text([text], precision)[0]


def search_image(
    bundle: Bundle,
    pack: ModelPack,
    path: Path,
    k: int = 10,
    precision: Precision = "int8",
    *,
    allow_other_model: bool = False,
) -> list[Hit]:
    check_compatible(bundle, pack, allow_other_model=allow_other_model)
    return rank(bundle, query_embedding(pack, None, path, precision), k)
