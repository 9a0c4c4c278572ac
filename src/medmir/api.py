"""medmir from Python: open a bundle and its model pack once, then search as often as you like.

    import medmir

    with medmir.open("build/demo/bundle", "build/demo/work/random-biomedclip/pack") as col:
        for r in col.search("bilateral pleural effusion with cardiomegaly", k=5):
            print(r.rank, r.filename, f"{r.score:.3f}", r.labels, r.patient)
        col.search(Path("query.png"))        # an image file
        col.similar(42)                      # the bundle's precomputed neighbours of row 42

`medmir search` is this API on the command line, so both rank the same rows the same way, and the same way as the
site: the query is embedded by the pack's INT8 model (in the browser's runtime where Node is at hand), ranked against
the bundle's own rows (version 2: the int8 rows, then the best candidates re-scored exactly, docs/FORMAT.md).
Opening is lazy where the format allows: version 1 embeddings are memory-mapped, version 2 metadata rows are built
only for the rows a search returns, and a model session is created on the first query that needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from medmir.bundle.neighbors import top_k
from medmir.bundle.read import Bundle
from medmir.errors import MedmirError
from medmir.model.pack import ModelPack, Precision

Query = str | Path | np.ndarray | int


@dataclass(frozen=True)
class Result:
    """One ranked image: `row` is its row in the bundle, `patient` its patient pseudonym ("" when unknown)."""

    rank: int
    row: int
    filename: str
    score: float
    labels: tuple[str, ...]
    patient: str

    def as_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "filename": self.filename, "score": round(self.score, 6),
                "labels": list(self.labels), "patient": self.patient, "row": self.row}  # fmt: skip


@dataclass(frozen=True)
class Filters:
    """Label filters: a row passes with at least one of `any_of` (when given), every one of `all_of`, none of
    `none_of`. Unknown labels are an error naming them (a typo would silently match nothing)."""

    any_of: tuple[str, ...] = field(default=())
    all_of: tuple[str, ...] = field(default=())
    none_of: tuple[str, ...] = field(default=())

    def empty(self) -> bool:
        return not (self.any_of or self.all_of or self.none_of)


class Collection:
    """A bundle and the pack it was indexed with, open for searching (`medmir.open`)."""

    def __init__(self, bundle: Bundle, pack: ModelPack, *, precision: Precision = "int8") -> None:
        self.bundle, self.pack, self.precision = bundle, pack, precision
        self._labels: dict[str, np.ndarray] = {}

    @property
    def count(self) -> int:
        return self.bundle.count

    def __len__(self) -> int:
        return self.count

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops the model's runtime (a Node process for the browser's runtime); the object is unusable after."""
        self.pack.close()

    # -- embedding -------------------------------------------------------------------------------------------------

    def embed_text(self, texts: str | Sequence[str]) -> np.ndarray:
        """float32 [dim] for one text, [n, dim] for a list: L2-normalised, as the site embeds a query."""
        one = isinstance(texts, str)
        batch = [texts] if isinstance(texts, str) else list(texts)
        for t in batch:
            if not t or not t.strip():
                raise MedmirError("empty query")
        out = self.pack.encode_text(batch, self.precision) if batch else np.zeros((0, self.pack.embed_dim), np.float32)
        return out[0] if one else out

    def embed_image(self, image: str | Path | np.ndarray) -> np.ndarray:
        """float32 [dim]: an image file (PNG, JPEG, ...) or an array (H x W grey or H x W x 3 RGB, uint8)."""
        from PIL import Image

        from medmir.images import load_image, preprocess_for_model

        if isinstance(image, np.ndarray):
            if image.ndim not in (2, 3) or image.dtype != np.uint8:
                raise MedmirError(f"an image array must be uint8 H x W or H x W x 3, got {image.dtype} {image.shape}")
            img = Image.fromarray(image).convert("RGB")
        else:
            img = load_image(Path(image))
        pixels = preprocess_for_model(img, self.pack.manifest["preprocess"])[None]
        return self.pack.encode_pixels(pixels, self.precision)[0]

    # -- searching -------------------------------------------------------------------------------------------------

    def search(self, query: Query, k: int = 10, filters: Filters | None = None) -> list[Result]:
        """The top `k` rows for a text, an image (a Path or an image array), a query vector (float [dim]) or a row of
        the bundle (int: ranked by that row's own embedding, the row itself first)."""
        return self.rank(self.query_vector(query), k, filters)

    def search_many(self, queries: Iterable[str], k: int = 10, filters: Filters | None = None,
                    batch: int = 32) -> Iterator[list[Result]]:  # fmt: skip
        """Results for each text query, in order; embedded `batch` at a time."""
        chunk: list[str] = []
        for q in queries:
            chunk.append(q)
            if len(chunk) == batch:
                yield from self._rank_many(self.embed_text(chunk), k, filters)
                chunk = []
        if chunk:
            yield from self._rank_many(self.embed_text(chunk), k, filters)

    def similar(self, row: int, k: int | None = None) -> list[Result]:
        """The bundle's precomputed nearest neighbours of `row` (what Find Similar shows), the row itself excluded."""
        self._check_row(row)
        ids, scores = self.bundle.neighbors_of(row)
        n = len(ids) if k is None else min(k, len(ids))
        return [self.result(r + 1, int(ids[r]), float(scores[r])) for r in range(n)]

    def query_vector(self, query: Query) -> np.ndarray:
        """The vector `search` ranks with."""
        if isinstance(query, str):
            return self.embed_text(query)
        if isinstance(query, Path):
            return self.embed_image(query)
        if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
            self._check_row(int(query))
            return np.asarray(self.bundle.embedding(int(query)), dtype=np.float32)
        if isinstance(query, np.ndarray):
            if query.ndim == 1 and query.dtype.kind == "f":
                if query.shape[0] != self.pack.embed_dim:
                    raise MedmirError(f"a query vector must have {self.pack.embed_dim} values, got {query.shape[0]}")
                return np.asarray(query, dtype=np.float32)
            return self.embed_image(query)
        raise MedmirError(f"a query is a text, an image path or array, a vector or a row, not {type(query).__name__}")

    def rank(self, vector: np.ndarray, k: int = 10, filters: Filters | None = None) -> list[Result]:
        return self._ranked(self.bundle.scores(vector), k, filters)

    def _rank_many(self, vectors: np.ndarray, k: int, filters: Filters | None) -> Iterator[list[Result]]:
        for scores in self.bundle.score_matrix(vectors):
            yield self._ranked(scores, k, filters)

    def _ranked(self, scores: np.ndarray, k: int, filters: Filters | None) -> list[Result]:
        if k < 1:
            raise MedmirError(f"k must be at least 1, got {k}")
        if filters is not None and not filters.empty():
            scores = np.where(self._passes(filters), scores, -np.inf).astype(np.float32)
        ids = [i for i in top_k(scores, k) if np.isfinite(scores[i])]
        return [self.result(r + 1, int(i), float(scores[i])) for r, i in enumerate(ids)]

    def result(self, rank: int, row: int, score: float) -> Result:
        m = self.bundle.metadata[row]
        return Result(rank, row, str(m["filename"]), score, tuple(m["labels"]), str(m.get("patient_id") or ""))

    @property
    def labels(self) -> list[str]:
        """Every label of the collection, sorted."""
        return sorted(self._label_masks())

    # -- internals -------------------------------------------------------------------------------------------------

    def _check_row(self, row: int) -> None:
        if not 0 <= row < self.count:
            raise MedmirError(f"{self.bundle.dir}: no row {row} (the bundle has {self.count})")

    def _label_masks(self) -> dict[str, np.ndarray]:
        if not self._labels:
            masks: dict[str, np.ndarray] = {}
            for i in range(self.count):
                for lab in self.bundle.row_labels(i):
                    masks.setdefault(lab, np.zeros(self.count, bool))[i] = True
            self._labels = masks
        return self._labels

    def _passes(self, f: Filters) -> np.ndarray:
        masks = self._label_masks()
        unknown = [lab for lab in (*f.any_of, *f.all_of, *f.none_of) if lab not in masks]
        if unknown:
            raise MedmirError(f"unknown label(s) {', '.join(map(repr, unknown))}; the collection has {sorted(masks)}")
        ok = np.ones(self.count, bool)
        if f.any_of:
            ok &= np.logical_or.reduce([masks[lab] for lab in f.any_of])
        for lab in f.all_of:
            ok &= masks[lab]
        for lab in f.none_of:
            ok &= ~masks[lab]
        return ok


def open(
    bundle: str | Path,
    pack: str | Path,
    *,
    verify: bool = True,
    precision: Precision = "int8",
    allow_other_model: bool = False,
) -> Collection:
    """Opens a bundle and the model pack it was indexed with. `verify`: the checks of `medmir verify` (sizes and
    sha256 of every file, every row), once for a bundle whose files have not changed since (bundle/verify.py
    `verify_once`); `allow_other_model`: a pack of the same width that did not index it (scores are then
    meaningless)."""
    from medmir.search import check_compatible

    if verify:
        from medmir.bundle.verify import verify_once

        verify_once(Path(bundle))
    b = Bundle.open(Path(bundle), verify=False)
    p = ModelPack.open(Path(pack))
    check_compatible(b, p, allow_other_model=allow_other_model)
    return Collection(b, p, precision=precision)
