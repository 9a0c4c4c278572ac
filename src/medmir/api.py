"""medmir from Python: open a bundle and its model pack once, then search as often as you like.

    import medmir

    with medmir.open("build/demo/bundle", "build/demo/work/random-biomedclip/pack") as col:
        for r in col.search("bilateral pleural effusion with cardiomegaly", k=5):
            print(r.rank, r.filename, f"{r.score:.3f}", r.labels, r.patient)
        col.search(Path("query.png"))        # an image file
        col.similar(42)                      # the bundle's precomputed neighbours of row 42

`medmir search` is this API on the command line, so both rank the same rows the same way, and the same way as the
site: the query is embedded by the pack's INT8 model (in the browser's runtime where Node is at hand), ranked against
the bundle's own rows by the contract's score (version 2: `scales[i] x (codes[i] . q) + center . q` over the int8
rows, docs/FORMAT.md; the browser finds its candidates with an int16 SIMD pass, then scores them by this rule).
Opening is lazy where the format allows: version 1 embeddings are memory-mapped, version 2 metadata rows are built
only for the rows a search returns, and a model session is created on the first query that needs it (or, for text,
started while the bundle is opened). Bundles and packs are verified once until a file changes (medmir.core.verified).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
from PIL import Image

from medmir.bundle.bands import BandKind, band
from medmir.bundle.read import Bundle
from medmir.bundle.verify import verify_once
from medmir.core.errors import MedmirError
from medmir.imaging.decode import load_image, preprocess_for_model
from medmir.model.pack import ModelPack, Precision

Query = str | Path | np.ndarray | int
OTHER_MODEL_HINT = "; use that pack (or, knowing the scores mean nothing, --allow-other-model)"


@dataclass(frozen=True)
class Result:
    """One ranked image: `row` is its row in the bundle, `patient` its patient pseudonym ("" when unknown), `band`
    what its score means in this collection for the query's kind: "close", "similar", "related", or "" below related
    or for a bundle without score bands (index_info.json `score_bands`, docs/FORMAT.md)."""

    rank: int
    row: int
    filename: str
    score: float
    labels: tuple[str, ...]
    patient: str
    band: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "filename": self.filename, "score": round(self.score, 6),
                "labels": list(self.labels), "patient": self.patient, "row": self.row, "band": self.band}  # fmt: skip


@dataclass(frozen=True)
class Filters:
    """Label filters: a row passes with at least one of `any_of` (when given), every one of `all_of`, none of
    `none_of`. Unknown labels are an error naming them (a typo would silently match nothing).

    `facets` (DICOM collections, docs/DICOM.md): {name: values}; a row passes when its value of each named facet is
    one of the values given (as the site's facet filters do). An unknown facet name is an error; a value no row has
    matches nothing."""

    any_of: tuple[str, ...] = field(default=())
    all_of: tuple[str, ...] = field(default=())
    none_of: tuple[str, ...] = field(default=())
    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.any_of or self.all_of or self.none_of or any(self.facets.values()))


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
        if isinstance(image, np.ndarray):
            if image.ndim not in (2, 3) or image.dtype != np.uint8:
                raise MedmirError(f"an image array must be uint8 H x W or H x W x 3, got {image.dtype} {image.shape}")
            img = Image.fromarray(image).convert("RGB")
        else:
            img = load_image(Path(image))
        pixels = preprocess_for_model(img, self.pack.preprocess)[None]
        return self.pack.encode_pixels(pixels, self.precision)[0]

    # -- searching -------------------------------------------------------------------------------------------------

    def search(self, query: Query, k: int = 10, filters: Filters | None = None) -> list[Result]:
        """The top `k` rows for a text, an image (a Path or an image array), a query vector (float [dim]) or a row of
        the bundle (int: ranked by that row's own embedding, the row itself first)."""
        self._check_k(k)
        return self.rank(self.query_vector(query), k, filters, kind="text" if isinstance(query, str) else "image")

    def search_many(self, queries: Iterable[str], k: int = 10, filters: Filters | None = None, *,
                    batch: int = 256, workers: int | None = None) -> Iterator[list[Result]]:  # fmt: skip
        """Results for each text query, in order. Queries are embedded `batch` at a time by `workers` INT8 text
        encoders in parallel (Node processes for the web runtime, single-threaded sessions for the native one;
        default: one a core, at most 4), the next batch while this one is ranked; a batch is ranked with one pass
        over the rows. Each query's results equal `search`'s."""
        self._check_k(k)
        passes = self.passes(filters)
        if self.precision == "int8":  # FP32 text runs batched on one native session
            self.pack.start_text(workers or min(os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(1) as ahead:
            pending: Future[np.ndarray] | None = None
            for chunk in _batches(queries, batch):
                embedded = ahead.submit(self.embed_text, chunk)
                if pending is not None:
                    yield from self._rank_many(pending.result(), k, passes, "text")
                pending = embedded
            if pending is not None:
                yield from self._rank_many(pending.result(), k, passes, "text")

    def similar(self, row: int, k: int | None = None) -> list[Result]:
        """The bundle's precomputed nearest neighbours of `row` (what Find Similar shows), the row itself excluded."""
        self._check_row(row)
        ids, scores = self.bundle.neighbors_of(row)
        n = len(ids) if k is None else min(k, len(ids))
        return [self.result(r + 1, int(ids[r]), float(scores[r]), "image") for r in range(n)]

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

    def rank(
        self, vector: np.ndarray, k: int = 10, filters: Filters | None = None, *, kind: BandKind = "image"
    ) -> list[Result]:
        """The top `k` rows for a query vector (float32 [dim], as `query_vector` makes); `kind`: which score bands
        the results' `band` reads ("text" for a text embedding, "image" otherwise)."""
        self._check_k(k)
        return next(self._rank_many(np.asarray(vector, dtype=np.float32)[None], k, self.passes(filters), kind))

    def _rank_many(
        self, vectors: np.ndarray, k: int, passes: np.ndarray | None, kind: BandKind
    ) -> Iterator[list[Result]]:
        all_ids, all_scores = self.bundle.top_k_many(vectors, k, passes)
        for ids, scores in zip(all_ids, all_scores, strict=True):
            yield self._results(ids, scores, kind)

    def _results(self, ids: np.ndarray, scores: np.ndarray, kind: BandKind) -> list[Result]:
        """Results for `ids` scoring `scores` (parallel arrays); -inf marks a row the filters left out."""
        kept = [(int(i), float(v)) for i, v in zip(ids, scores, strict=True) if np.isfinite(v)]
        return [self.result(r + 1, i, v, kind) for r, (i, v) in enumerate(kept)]

    def result(self, rank: int, row: int, score: float, kind: BandKind = "image") -> Result:
        """Row `row` as the `rank`-th result of a `kind` query scoring `score`."""
        m = self.bundle.metadata[row]
        return Result(rank, row, str(m["filename"]), score, tuple(m["labels"]), str(m.get("patient_id") or ""),
                      band(score, self.bundle.info.score_bands, kind))  # fmt: skip

    @property
    def labels(self) -> list[str]:
        """Every label of the collection, sorted."""
        return sorted(self._label_masks())

    def passes(self, f: Filters | None) -> np.ndarray | None:
        """bool [count]: the rows `f` lets through; None for no filter (the site's row filter lets the same ones
        through: tests/fixtures/parity/filters.json)."""
        if f is None or f.empty():
            return None
        masks = self._label_masks()
        unknown = [lab for lab in (*f.any_of, *f.all_of, *f.none_of) if lab not in masks]
        if unknown:
            raise MedmirError(f"unknown label(s) {', '.join(map(repr, unknown))}; the collection has {sorted(masks)}")
        ok = np.ones(self.count, bool)
        columns = self.bundle.facet_columns() if f.facets else {}
        for name, wanted in f.facets.items():
            if name not in columns:
                raise MedmirError(f"unknown facet {name!r}; the collection has {sorted(columns) or 'none'}")
            values, rows = columns[name]
            if wanted:
                accept = np.append(np.isin(values, list(wanted)), False)  # index -1 (unknown) reads the False
                ok &= accept[rows]
        if f.any_of:
            ok &= np.logical_or.reduce([masks[lab] for lab in f.any_of])
        for lab in f.all_of:
            ok &= masks[lab]
        for lab in f.none_of:
            ok &= ~masks[lab]
        return ok

    # -- internals -------------------------------------------------------------------------------------------------

    def _check_row(self, row: int) -> None:
        if not 0 <= row < self.count:
            raise MedmirError(f"{self.bundle.dir}: no row {row} (the bundle has {self.count})")

    @staticmethod
    def _check_k(k: int) -> None:
        if k < 1:
            raise MedmirError(f"k must be at least 1, got {k}")

    def _label_masks(self) -> dict[str, np.ndarray]:
        if not self._labels:
            table, has = self.bundle.label_matrix()
            self._labels = {lab: np.ascontiguousarray(has[:, j]) for j, lab in enumerate(table)}
        return self._labels


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def check_compatible(bundle: Bundle, pack: ModelPack, *, allow_other_model: bool = False) -> None:
    """Ranking needs the pack the bundle was indexed with; `allow_other_model` only needs the same width."""
    if not allow_other_model:
        bundle.info.check_indexed_with(pack, bundle.dir, hint=OTHER_MODEL_HINT)
    if bundle.info.dim != pack.embed_dim:
        raise MedmirError(
            f"{bundle.dir}: {bundle.info.dim}-d embeddings, the pack at {pack.dir} makes {pack.embed_dim}"
        )


def open(
    bundle: str | Path,
    pack: str | Path,
    *,
    verify: bool = True,
    precision: Precision = "int8",
    allow_other_model: bool = False,
    start_text: bool = True,
) -> Collection:
    """Opens a bundle and the model pack it was indexed with. `verify`: the checks of `medmir verify` (sizes and
    sha256 of every file, every row) and of the pack's checksums, once for files that have not changed since
    (medmir.core.verified); `allow_other_model`: a pack of the same width that did not index it (scores are then
    meaningless); `start_text`: start the text model now, so it is ready by the first text query (the browser's
    runtime takes about a second to start; False for image-only use)."""
    p = ModelPack.open(Path(pack), verify=verify)
    if start_text and precision == "int8":
        p.start_text()  # Node creates its session while the bundle is checked and read
    try:
        if verify:
            verify_once(Path(bundle))
        b = Bundle.open(Path(bundle), verify=False)
        check_compatible(b, p, allow_other_model=allow_other_model)
    except BaseException:
        p.close()
        raise
    return Collection(b, p, precision=precision)
