"""The Python side of the parity tables (tests/fixtures/parity/*.json): each table's cases, and how the Python
reference answers a case's `input`.

scripts/make_parity_tables.py writes the tables with it (`expected` is what `run` answers); tests/test_parity_tables.py
re-runs every committed case through it, and web/test/parity.test.ts runs the same cases through the TypeScript
implementation. A case may carry `web_differs`: a difference between the two sides known today, in words; the web
driver then asserts that the difference still holds (so fixing it shows up), the Python driver ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from medmir.api import Collection, Filters
from medmir.bundle import columns
from medmir.bundle.bands import band, check_score_bands, score_bands
from medmir.bundle.compact import Int8Rows
from medmir.bundle.read import Bundle
from medmir.core.errors import MedmirError
from medmir.data.records import Record
from medmir.model.pack import ModelPack

Json = Any


@dataclass(frozen=True)
class Case:
    name: str
    input: Json
    web_differs: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    about: str
    cases: list[Case]
    run: Callable[[Json, dict[str, Json]], Json]  # (a case's input, the table's shared entries) -> expected
    shared: dict[str, Json] = field(default_factory=dict)


def f32(x: Any) -> float:
    """A float32 value as the shortest decimal that reads back to it (in float32: numpy, Float32Array)."""
    return float(str(np.float32(x)))


# -- score bands ------------------------------------------------------------------------------------------------------

BANDS = {
    "image": {"close": 0.95, "similar": 0.9, "related": 0.8},
    "text": {"close": 0.4, "similar": 0.3, "related": 0.2},
    "method": "quantiles of this bundle's own scores",
}


def run_bands(inp: Json, _shared: dict[str, Json]) -> Json:
    fn = inp["fn"]
    if fn == "band":
        return band(inp["score"], inp["score_bands"], inp["kind"])
    if fn == "no_confident_match":
        # docs/FORMAT.md: "when even the best result of a query is below `related`", read through `band`
        bands, scores = inp["score_bands"], inp["scores"]
        return bool((bands or {}).get(inp["kind"])) and bool(scores) and band(max(scores), bands, inp["kind"]) == ""
    if fn == "check":
        return {"error": check_score_bands(inp["score_bands"])}
    if fn == "score_bands":
        return score_bands(np.asarray(inp["neighbor_scores"], np.float64), inp["fallback"])
    raise ValueError(f"unknown fn {fn!r}")


def _band_cases() -> list[Case]:
    cases = []
    for kind, scores in (
        ("image", [0.99, 0.95, 0.92, 0.9, 0.85, 0.8, 0.79, -1.0, 1.0]),
        ("text", [0.41, 0.4, 0.35, 0.3, 0.25, 0.2, 0.19999, 0.1, -1.0]),
    ):
        for s in scores:
            cases.append(Case(f"band {kind} {s}", {"fn": "band", "score": s, "score_bands": BANDS, "kind": kind}))
    under = float(np.float32(0.9))  # the float32 score nearest 0.9 is below the float64 threshold 0.9
    cases += [
        Case(
            "band: a float32 score just under its threshold",
            {"fn": "band", "score": under, "score_bands": BANDS, "kind": "image"},
        ),
        Case("band: no bands (an older bundle)", {"fn": "band", "score": 0.99, "score_bands": None, "kind": "image"}),
        Case(
            "band: no bands of this kind (one image)",
            {"fn": "band", "score": 0.99, "score_bands": {**BANDS, "image": None}, "kind": "image"},
        ),
    ]
    for name, scores, bands, kind in (
        ("the best below related", [0.19, 0.1], BANDS, "text"),
        ("the best wherever it is", [0.1, 0.2], BANDS, "text"),
        ("the best exactly related", [0.8], BANDS, "image"),
        ("no results", [], BANDS, "text"),
        ("no bands", [0.1], None, "text"),
        ("no bands of this kind", [0.1], {**BANDS, "text": None}, "text"),
    ):
        inp = {"fn": "no_confident_match", "scores": scores, "score_bands": bands, "kind": kind}
        cases.append(Case(f"no confident match: {name}", inp))
    return cases


def _check_cases() -> list[Case]:
    ok = {
        "well formed": BANDS,
        "image null": {**BANDS, "image": None},
        "both null": {**BANDS, "image": None, "text": None},
        "integers and the ends of [-1, 1]": {**BANDS, "image": {"close": 1, "similar": 0, "related": -1}},
        "within the 1e-6 rounding slack": {**BANDS, "image": {"close": 1.0000005, "similar": 0.9, "related": 0.8}},
        "an extra key": {**BANDS, "text": {"close": 0.4, "similar": 0.3, "related": 0.2, "note": "x"}},
    }
    bad = {
        "null": None,
        "a list": [],
        "no method": {"image": None, "text": None},
        "method not a string": {**BANDS, "method": 1},
        "out of order": {**BANDS, "text": {"close": 0.2, "similar": 0.3, "related": 0.1}},
        "a string value": {**BANDS, "text": {"close": 0.4, "similar": "0.3", "related": 0.1}},
        "a bool value": {**BANDS, "text": {"close": 0.4, "similar": True, "related": 0.1}},
        "above 1": {**BANDS, "image": {"close": 1.5, "similar": 0.9, "related": 0.8}},
        "below -1": {**BANDS, "image": {"close": 0.9, "similar": 0.8, "related": -1.5}},
        "a band missing": {**BANDS, "image": {"close": 0.95, "similar": 0.9}},
        "a kind not an object": {**BANDS, "image": "close"},
    }
    cases = [Case(f"check: {k}", {"fn": "check", "score_bands": v}) for k, v in {**ok, **bad}.items()]
    no_image = {"text": BANDS["text"], "method": BANDS["method"]}
    cases.append(
        Case(
            "check: the image kind absent",
            {"fn": "check", "score_bands": no_image},
            web_differs="Python's check_score_bands reads an absent kind as null; the web's parseScoreBands "
            "refuses it (the writer always writes both kinds, null when none)",
        )
    )
    return cases


def _score_band_cases() -> list[Case]:
    rng = np.random.default_rng(24)
    nn = np.sort(np.round(rng.uniform(0.5, 0.99, (9, 4)), 4), axis=1)[:, ::-1]
    queries = [{"scores": sorted(np.round(rng.uniform(0.0, 0.45, 5), 4).tolist(), reverse=True)} for _ in range(6)]
    dup = nn.copy()
    dup[:5, 0] = 1.003  # a duplicate image's int8 score passes 1 a little: bands are cosines, clipped to [-1, 1]
    cases = {
        "nine rows, k 4; six fallback queries": (nn.tolist(), {"queries": queries}),
        "even counts (the median between two)": (nn[:8].tolist(), {"queries": queries[:4]}),
        "scores above 1 clipped": (dup.tolist(), {"queries": queries}),
        "one image, and fallback queries without scores": ([[]], {"queries": [{"scores": []}, *queries[:1]]}),
        "no fallback scores at all": (nn.tolist(), {"queries": [{"scores": []}]}),
    }
    return [
        Case(f"score bands: {k}", {"fn": "score_bands", "neighbor_scores": s, "fallback": fb})
        for k, (s, fb) in cases.items()
    ]


BANDS_TABLE = Table(
    "bands",
    "score bands (medmir.bundle.bands; web lib/contracts/bands.ts, lib/results/confidence.ts). fn band: the band of "
    "`score` for a `kind` query (band vs bandOf); no_confident_match: at least one result and even the best below "
    "related (noConfidentMatch); check: whether a score_bands value is well formed, `error` null when it is "
    "(check_score_bands vs parseScoreBands: only whether it is refused is compared, not the words); score_bands: the "
    "bands index_info.json gets from the neighbour and fallback scores (Python only: the web must accept them)",
    [*_band_cases(), *_check_cases(), *_score_band_cases()],
    run_bands,
)


# -- label and facet filters ------------------------------------------------------------------------------------------

FILTER_ROWS: list[tuple[list[str], dict[str, str]]] = [
    (["Effusion"], {"modality": "CR", "body_part": "CHEST"}),
    (["Effusion", "Mass"], {"modality": "CR"}),
    (["Mass"], {"modality": "DX", "body_part": "CHEST"}),
    ([], {}),
    (["Nodule", "Effusion", "Mass"], {"modality": "CR", "body_part": "ABDOMEN"}),
    (["Nodule"], {"body_part": "Thorax \u00fc"}),
    (["Hernia"], {"modality": "DX"}),
]


class MetadataBundle:
    """What Collection.passes reads of a Bundle (its count, label matrix and facet columns), from a version 2
    metadata.json alone, as medmir.bundle.read_v2 reads them."""

    def __init__(self, meta: Json) -> None:
        self.count = int(meta["count"])
        self.metadata = columns.Rows(meta, self.count, "metadata.json")

    def label_matrix(self) -> tuple[list[str], np.ndarray]:
        return self.metadata.label_table, self.metadata.label_matrix()

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        return self.metadata.facet_columns()


def run_filters(inp: Json, shared: dict[str, Json]) -> Json:
    bundle = MetadataBundle(shared["metadata"])
    f = Filters(tuple(inp["any_of"]), tuple(inp["all_of"]), tuple(inp["none_of"]), inp["facets"])
    try:
        ok = Collection(cast(Bundle, bundle), cast(ModelPack, None)).passes(f)
    except MedmirError as e:
        return {"error": str(e)}
    return {"rows": list(range(bundle.count)) if ok is None else np.flatnonzero(ok).tolist()}


def _filter_records() -> list[Record]:
    return [
        Record(f"img{i}.png", tuple(labels), patient_id=f"p{i % 3}", facets=tuple(sorted(facets.items())))
        for i, (labels, facets) in enumerate(FILTER_ROWS)
    ]


def _filters(
    any_of: tuple[str, ...] = (),
    all_of: tuple[str, ...] = (),
    none_of: tuple[str, ...] = (),
    facets: dict[str, list[str]] | None = None,
) -> Json:
    return {"any_of": list(any_of), "all_of": list(all_of), "none_of": list(none_of), "facets": facets or {}}


UNKNOWN = "the web leaves unknown names to its rule, not an error (a link may name a label or facet this collection "
LENIENT = UNKNOWN + "lacks): in any_of a label adds nothing, in all_of no row passes, in none_of it removes nothing"


def _filter_cases() -> list[Case]:
    f = _filters
    ok = {
        "no filter": f(),
        "any of one": f(any_of=("Effusion",)),
        "any of two": f(any_of=("Effusion", "Nodule")),
        "all of two": f(all_of=("Effusion", "Mass")),
        "all of one label twice": f(all_of=("Mass", "Mass")),
        "none of one": f(none_of=("Mass",)),
        "none of two": f(none_of=("Mass", "Nodule")),
        "any and none": f(any_of=("Effusion", "Nodule"), none_of=("Mass",)),
        "any, all and none": f(any_of=("Nodule", "Hernia"), all_of=("Effusion",), none_of=("Hernia",)),
        "all and none of one label": f(all_of=("Mass",), none_of=("Mass",)),
        "a facet value": f(facets={"modality": ["CR"]}),
        "two values of a facet": f(facets={"modality": ["CR", "DX"]}),
        "a value no row has": f(facets={"modality": ["MR"]}),
        "two facets": f(facets={"modality": ["CR"], "body_part": ["CHEST"]}),
        "a unicode facet value": f(facets={"body_part": ["Thorax \u00fc"]}),
        "a facet with no value chosen": f(facets={"modality": []}),
        "an empty facet beside a label": f(any_of=("Mass",), facets={"modality": []}),
        "an unknown facet with no value chosen": f(facets={"scanner": []}),
        "facets and labels": f(any_of=("Effusion", "Mass"), none_of=("Nodule",), facets={"modality": ["CR", "DX"]}),
        "rows without the facet never pass it": f(facets={"body_part": ["CHEST", "ABDOMEN"]}),
    }
    differ = {
        "an unknown label in any of": (f(any_of=("Effusion", "Atelectasis")), LENIENT),
        "an unknown label in all of": (f(all_of=("Atelectasis",)), LENIENT),
        "an unknown label in none of": (f(none_of=("Atelectasis",)), LENIENT),
        "an unknown facet": (f(facets={"scanner": ["X"]}), UNKNOWN + "lacks): an unknown facet matches no row"),
        "an unknown facet with no value beside a known one": (
            f(facets={"scanner": [], "modality": ["CR"]}),
            UNKNOWN + "lacks): a facet with no value chosen does not filter, known or not",
        ),
    }
    return [Case(k, v) for k, v in ok.items()] + [Case(k, v, web_differs=why) for k, (v, why) in differ.items()]


FILTERS_TABLE = Table(
    "filters",
    "label and facet filters: the rows a filter lets through (medmir.api Filters, Collection.passes; web "
    "worker/collection/collection.ts rowFilter over the row table of `metadata` and of `images`, the same rows as "
    "a version 1 bundle lists them). any_of: at least one of them (when given), all_of: every one, none_of: none; "
    "facets: per facet one of the values (a facet with none chosen does not filter). `rows`: the rows passing, or "
    "`error`",
    _filter_cases(),
    run_filters,
    {
        "metadata": columns.encode(_filter_records()),
        "images": columns.decode(columns.encode(_filter_records()), len(FILTER_ROWS), "metadata.json"),
    },
)


# -- int8 ranking ----------------------------------------------------------------------------------------------------

SCORE_TOLERANCE = 1e-6
GRID_ROWS, GRID_QUERY = 2**12, 2**10


def _grid(x: np.ndarray, step: int) -> np.ndarray:
    return np.round(x * step) / step


def _rows(rng: np.random.Generator, pairs: int, dim: int, dup: int = 0, zero: bool = False) -> np.ndarray:
    """float32 rows `center +- r` on a 2^-12 grid, so their mean (the quantizer's center) is exact and every sum
    Python makes is exact in float32 (with queries on a 2^-10 grid): the table does not depend on the BLAS."""
    center = _grid(rng.normal(0.0, 0.1, dim), GRID_ROWS)
    r = _grid(rng.normal(0.0, 0.05, (pairs, dim)), GRID_ROWS)
    if dup:
        r[pairs - dup :] = r[:dup]  # rows that tie exactly
    if zero:
        r[0] = 0.0  # a row that is the center: scale 1, codes 0
    return np.concatenate([center + r, center - r]).astype(np.float32)


def _query(rng: np.random.Generator, x: np.ndarray, near: int | None) -> np.ndarray:
    """A unit-ish query on a 2^-10 grid: random, or along row `near`'s residual (so it and its twins lead)."""
    r = 0.0 if near is None else x[near] - x.astype(np.float64).mean(axis=0)
    v = rng.normal(0.0, 1.0, x.shape[1]) + (0.0 if near is None else 8 * r / max(np.linalg.norm(r), 1e-9))
    return _grid(v / np.linalg.norm(v) * 0.9, GRID_QUERY).astype(np.float32)


def run_int8(inp: Json, _shared: dict[str, Json]) -> Json:
    rows = Int8Rows(
        np.asarray(inp["codes"], np.int8), np.asarray(inp["scales"], np.float32), np.asarray(inp["center"], np.float32)
    )
    passes = None if inp["passes"] is None else np.asarray(inp["passes"], bool)
    ids, scores = rows.top_k_many(np.asarray(inp["queries"], np.float32), inp["k"], passes)
    keep = np.isfinite(scores)  # rows the filter left out score -inf (medmir.api leaves them out)
    return {
        "ids": [i[m].tolist() for i, m in zip(ids, keep, strict=True)],
        "scores": [[f32(v) for v in s[m]] for s, m in zip(scores, keep, strict=True)],
    }


def _check_exact(rows: Int8Rows, inp: Json, got: Json) -> None:
    """Guards of the generator: Python's float32 sums are exact, and its order is the exact (float64) order with a
    gap far above the tolerance between distinct rows, so the web's float64 re-rank must give the same ids."""
    c64 = rows.center.astype(np.float64)
    left_out = np.zeros(len(rows.codes), bool) if inp["passes"] is None else ~np.asarray(inp["passes"])
    for qi, ids in zip(np.asarray(inp["queries"], np.float64), got["ids"], strict=True):
        assert np.abs(qi * c64).sum() < 4 and np.abs(qi).sum() * 127 < 2**14, "a float32 sum might round"
        exact = (rows.codes.astype(np.float64) @ qi) * rows.scales.astype(np.float64) + c64 @ qi
        exact[left_out] = -np.inf
        order = [int(i) for i in np.lexsort((np.arange(len(exact)), -exact)) if np.isfinite(exact[i])]
        assert order[: inp["k"]] == ids, "Python's float32 order is not the exact order"
        gaps = np.abs(np.diff(exact[order[: inp["k"] + 1]]))
        assert np.all((gaps == 0) | (gaps > 10 * SCORE_TOLERANCE)), "a near tie: pick another seed"


def _int8_case(
    name: str,
    seed: int,
    pairs: int,
    dim: int,
    near: list[int | None],
    k: int,
    *,
    dup: int = 0,
    zero: bool = False,
    passes: list[bool] | None = None,
) -> Case:
    rng = np.random.default_rng(seed)
    x = _rows(rng, pairs, dim, dup, zero)
    rows = Int8Rows.quantize(x)
    mean = x.astype(np.float64).mean(axis=0)
    assert np.array_equal(rows.center, mean) and np.array_equal(mean, _grid(mean, GRID_ROWS)), "an inexact center"
    q = np.stack([np.zeros(dim, np.float32) if n == -1 else _query(rng, x, n) for n in near])
    inp = {
        "codes": rows.codes.tolist(),
        "scales": [f32(s) for s in rows.scales],
        "center": [f32(c) for c in rows.center],
        "queries": q.tolist(),
        "k": k,
        "passes": passes,
    }
    _check_exact(rows, inp, run_int8(inp, {}))
    return Case(name, inp)


def _int8_cases() -> list[Case]:
    return [
        # 200 rows: the SIMD pass keeps k + 128 = 133 candidates for the exact re-rank. Queries near row 3 (which
        # row 93 ties exactly), near row 150, near row 103 (tied by 193), a random one and the zero query (every
        # score 0: the lowest rows)
        _int8_case("200 centred rows x 32 dims, k 5", 11, 100, 32, [3, 150, 103, None, -1], 5, dup=10),
        _int8_case("30 rows x 24 dims (not a multiple of 16: the JavaScript loop), k 4", 5, 15, 24, [2, 20, None], 4),
        _int8_case(
            "16 rows x 16 dims, a filter and k past the rows that pass (a zero-residual row and its twin)",
            3,
            8,
            16,
            [0, 5, None],
            20,
            zero=True,
            passes=[i % 3 != 1 for i in range(16)],
        ),
        _int8_case("16 rows x 16 dims, k 1", 4, 8, 16, [9, None], 1),
    ]


INT8_TABLE = Table(
    "int8_ranking",
    "ranking bundle format 2's int8 rows (medmir.bundle.compact.Int8Rows.top_k_many; web worker/rank/int8Ranking.ts "
    "Int8Ranker.rank, with and without the WebAssembly SIMD pass): score = scales[i] x (codes[i] . q) + center . q, "
    "the k best rows best first, equal scores by lower row; rows `passes` leaves out are not returned. `ids` must be "
    "equal and `scores` within score_tolerance (Python sums in float32, the web in float64). Rows and queries lie on "
    "a grid that makes Python's sums exact, so the table is the same on every machine",
    _int8_cases(),
    run_int8,
    {"score_tolerance": SCORE_TOLERANCE},
)


# -- columnar metadata ------------------------------------------------------------------------------------------------


def record_json(r: Record) -> Json:
    return {
        "filename": r.filename,
        "labels": list(r.labels),
        "primary_label": r.primary_label,
        "patient_id": r.patient_id,
        "age": r.age,
        "sex": r.sex,
        "view": r.view,
        "facets": dict(r.facets),
    }


def record_of(j: Json) -> Record:
    return Record(
        j["filename"],
        tuple(j["labels"]),
        j["primary_label"],
        j["patient_id"],
        j["age"],
        j["sex"],
        j["view"],
        tuple(sorted(j["facets"].items())),
    )


def run_columns(inp: Json, _shared: dict[str, Json]) -> Json:
    try:
        return {"rows": columns.decode(inp["metadata"], inp["count"], "metadata.json")}
    except MedmirError as e:
        return {"error": str(e)}


NIH = [
    Record("00000001_000.png", ("Cardiomegaly",), "Cardiomegaly", "00000001", 58, "M", "PA"),
    Record("00000001_001.png", ("Nodule", "Effusion"), "Nodule", "00000001", 58, "M", "AP"),
    Record("00000002_000.png", ("Effusion", "Mass"), "Mass", "00000002", 81, "F", "PA"),
    Record("00000003_000.png", ("No_Finding",), "", "00000003", 7, "F", "PA"),
]
UNKNOWNS = [Record("a.b.c.png", ()), Record("00000004_000.png", ("Hernia",), "", "", None, "", "")]
DICOM = [
    Record("ct1.png", ("Mass",), facets=(("body_part", "CHEST"), ("modality", "CT"), ("study_year", "2019"))),
    Record("cr1.png", (), facets=(("modality", "CR"),)),
    Record("plain.png", ("Mass",)),
    Record("cr2.png", ("Mass",), facets=(("age_band", "60-64"), ("modality", "CR"))),
]
UNICODE = [
    Record(
        "Brustkorb_\u00dcn\u00efc\u00f8d\u00e9_\u80ba.png",
        ("\u00c9panchement",),
        "",
        "pati\u00ebnt-\u03b2",
        40,
        "F",
        "\u5de6",
        (("body_part", "\u00c4rzte \U0001fac1"),),
    ),
    Record("\U0001fac1.dcm.png", ("\u00c9panchement", "Nodule"), "Nodule", "pati\u00ebnt-\u03b2", 41, "F", "PA"),
]


def _broken(meta: Json, change: Callable[[Json], None]) -> Json:
    m = json.loads(json.dumps(meta))
    change(m)
    return m


def _column_cases() -> list[Case]:
    cases = []
    for name, records in (
        ("NIH rows (a primary label that is not the first, labels not in table order)", NIH),
        ("no labels, no patient, age, sex or view", UNKNOWNS),
        ("facets: some rows lack one, one row has none", DICOM),
        ("unicode names, values and a non-BMP character", UNICODE),
        ("no rows", []),
    ):
        meta = columns.encode(records)
        cases.append(
            Case(name, {"count": len(records), "records": [record_json(r) for r in records], "metadata": meta})
        )
    good = columns.encode(NIH + DICOM)
    n = len(NIH + DICOM)

    def put(path: tuple[str, ...], value: Any) -> Callable[[Json], None]:
        def change(m: Json) -> None:
            for p in path[:-1]:
                m = m[int(p)] if isinstance(m, list) else m[p]
            m[int(path[-1]) if isinstance(m, list) else path[-1]] = value

        return change

    broken = {
        "a column shorter than count": put(("columns", "view"), good["columns"]["view"][:-1]),
        "a label index past the table": put(("columns", "labels", "0"), [99]),
        "-1 among a row's labels": put(("columns", "labels", "1"), [0, -1]),
        "a patient index past the table": put(("columns", "patient", "2"), 99),
        "a table value not a string": put(("tables", "sex", "0"), 1),
        "facet rows of the wrong length": put(("facets", "modality", "rows"), [0]),
        "a facet value index past its values": put(("facets", "modality", "rows", "4"), 9),
        "no columns (a version 1 file)": lambda m: m.pop("columns"),
    }
    cases += [Case(f"malformed: {k}", {"count": n, "metadata": _broken(good, v)}) for k, v in broken.items()]
    differ = {
        "an age that is a string": (put(("columns", "age", "0"), "58"), "Python keeps the string"),
        "a filename that is a number": (put(("columns", "filename", "0"), 7), "Python reads it as the string '7'"),
    }
    cases += [
        Case(
            f"malformed: {k}",
            {"count": n, "metadata": _broken(good, v)},
            web_differs=f"{why}; the web's Columns refuses the file",
        )
        for k, (v, why) in differ.items()
    ]
    return cases


COLUMNS_TABLE = Table(
    "columns",
    "bundle format 2's columnar metadata.json (medmir.bundle.columns: `metadata` is encode(`records`), `rows` its "
    "decode; web lib/contracts/bundleV2.ts Columns.row and the row table the filters read, lib/contracts/rowTable.ts, "
    "with thumbnailPathFor for `thumbnail`; `report` and `id` are Python's only). Malformed files: `error` (only "
    "whether one is refused is compared, not the words)",
    _column_cases(),
    run_columns,
)

TABLES = [BANDS_TABLE, FILTERS_TABLE, INT8_TABLE, COLUMNS_TABLE]
