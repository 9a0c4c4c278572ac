"""`medmir evaluate`: score a bundle with the model the browser runs, next to chance and with confidence intervals.

Query embeddings come from the pack's INT8 text model at the real token count, one query per run (the browser's
policy) unless `text_model="fp32"` is asked for; the output says which.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle.format import EVAL_FILES, HARD_CASES, METRICS
from medmir.bundle.read import Bundle
from medmir.bundle.write import register_files
from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_json
from medmir.evaluate.baselines import expected_random
from medmir.evaluate.hardcases import confusion_matrix, hard_cases
from medmir.evaluate.image2image import I2I_METRICS, cbir_figures, image_to_image
from medmir.evaluate.metrics import KS, METRIC_DOCS, aggregate, check_inputs, per_query_metrics, rank_order
from medmir.evaluate.stats import bootstrap_cis
from medmir.evaluate.tiers import (
    TIER_DOCS,
    TIERS,
    Query,
    TierSet,
    build_tiers,
    queries_for,
    read_queries,
    semantic_groups,
)
from medmir.evaluate.zeroshot import zero_shot_auc
from medmir.model.pack import ModelPack, Precision


def chance_interval(
    relevance: np.ndarray, ks: tuple[int, ...], shuffles: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """The spread of each aggregated metric under random rankings (independent per query)."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(shuffles):
        agg = aggregate(per_query_metrics(rng.random(relevance.shape, dtype=np.float32), relevance, ks))
        for name, v in agg.items():
            draws.setdefault(name, []).append(v)
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {name: (float(np.percentile(v, lo)), float(np.percentile(v, hi))) for name, v in draws.items()}


def _figures(
    per_query: dict[str, np.ndarray],
    chance_pq: dict[str, np.ndarray],
    cis: dict[str, tuple[float, float]],
    spread: dict[str, tuple[float, float]] | None,
) -> dict[str, dict[str, Any]]:
    agg = aggregate(per_query)
    out = {}
    for name, value in agg.items():
        fig = {
            "value": round(value, 6),
            "ci95": [round(cis[name][0], 6), round(cis[name][1], 6)],
            "chance": round(float(np.mean(chance_pq[name])), 6),
        }
        if spread and name in spread:
            fig["chance_interval95"] = [round(spread[name][0], 6), round(spread[name][1], 6)]
        out[name] = fig
    return out


def _tier(
    tier: str,
    queries: list[Query],
    scores: np.ndarray,
    relevance: np.ndarray,
    kept: np.ndarray,
    *,
    n_boot: int,
    seed: int,
    shuffles: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    qs = [q for q, k in zip(queries, kept, strict=True) if k]
    s, rel = scores[kept], relevance[kept]
    pq = per_query_metrics(s, rel, KS)
    r = rel.sum(axis=1)
    chance_pq = expected_random(rel.shape[1], r, KS)
    cis = bootstrap_cis({k: v for k, v in pq.items() if k != "first_relevant_rank"}, n_boot=n_boot, seed=seed)
    spread = chance_interval(rel, KS, shuffles, seed) if shuffles else None
    summary = {
        "definition": TIER_DOCS[tier],
        "queries": len(qs),
        "excluded_queries": [q.text for q, k in zip(queries, kept, strict=True) if not k],
        "metrics": _figures({k: v for k, v in pq.items() if k != "first_relevant_rank"}, chance_pq, cis, spread),
    }
    records = [
        {
            "query": q.text,
            "label": q.label,
            "tier": tier,
            "relevant_images": int(r[i]),
            "first_relevant_rank": int(pq["first_relevant_rank"][i]),
            "ap": round(float(pq["ap"][i]), 6),
            "reciprocal_rank": round(float(pq["mrr"][i]), 6),
            "hits": {f"hit@{k}": int(pq[f"hit@{k}"][i]) for k in KS},
            "relevant_in_top": {str(k): round(float(pq[f"precision@{k}"][i] * k)) for k in KS},
            "ndcg": {f"ndcg@{k}": round(float(pq[f"ndcg@{k}"][i]), 6) for k in KS},
            "r_precision": round(float(pq["r_precision"][i]), 6),
        }
        for i, q in enumerate(qs)
    ]
    return summary, records


def _per_label(
    queries: list[Query], scores: np.ndarray, relevance: np.ndarray, labels: list[list[str]]
) -> list[dict[str, Any]]:
    """Text -> image per label, strict tier."""
    pq = per_query_metrics(scores, relevance, KS)
    rows = []
    for label in sorted({q.label for q in queries}):
        idx = [i for i, q in enumerate(queries) if q.label == label]
        rows.append(
            {
                "label": label,
                "images": int(sum(label in lab for lab in labels)),
                "queries": len(idx),
                "hit@10": round(float(np.mean(pq["hit@10"][idx])), 6),
                "ap": round(float(np.mean(pq["ap"][idx])), 6),
                "chance_ap": round(
                    float(np.mean(expected_random(relevance.shape[1], relevance[idx].sum(axis=1), KS)["ap"])), 6
                ),
            }
        )
    return rows


def evaluate(
    bundle_dir: Path,
    pack_dir: Path,
    out: Path | None = None,
    *,
    text_model: Precision = "int8",
    n_boot: int = 1000,
    shuffles: int | None = None,
    seed: int = 0,
    i2i_max_queries: int = 2000,
    report: bool = True,
    queries_file: Path | None = None,
) -> dict[str, Any]:
    """Scores the bundle, writes metrics.json and hard_cases.json into it (vouched for by its index_info.json) and,
    with `report`, report.md and its plots into `out` (default: the bundle's report/)."""
    bundle, pack = _open(bundle_dir, pack_dir)
    labels = [list(m["labels"]) for m in bundle.metadata]
    groups = semantic_groups()
    if queries_file is not None:
        queries, templated = read_queries(queries_file), []
    else:
        queries, templated = queries_for(lab for lab_list in labels for lab in lab_list)
    tiers = build_tiers(queries, labels, groups)
    emb = np.asarray(bundle.embeddings, dtype=np.float32)
    qv = pack.encode_text([q.text for q in queries], text_model)
    scores = bundle.score_matrix(qv)  # the bundle's own scoring: int8 rows for a version 2 bundle
    check_inputs(scores, tiers.relevance["strict"])
    if shuffles is None:
        shuffles = 1000 if len(queries) * bundle.count <= 5_000_000 else 100
    tier_out, records = _tiers(queries, scores, tiers, n_boot=n_boot, seed=seed, shuffles=shuffles)
    order = rank_order(scores)
    hard = hard_cases(queries, order, labels, [m["filename"] for m in bundle.metadata], groups)
    metrics = {
        "format": "medmir-metrics",
        "format_version": 1,
        "evaluated": _evaluated(bundle, pack, text_model),
        "ks": list(KS),
        "metric_docs": METRIC_DOCS,
        "ranking_rule": "score = dot product of unit vectors; higher first; ties by lower image row",
        "chance": "expected value under a uniformly random ranking (exact); chance_interval95: spread of the mean "
        f"over {shuffles} random rankings",
        "ci": f"95% percentile bootstrap over queries, {n_boot} resamples, seed {seed}",
        "queries": {
            "count": len(queries),
            "source": str(queries_file.name) if queries_file else "built-in",
            "labels": sorted({q.label for q in queries}),
            "labels_from_templates": templated,
            "labels_without_images": tiers.labels_without_images,
            "semantic_groups": groups,
        },
        "tiers": tier_out,
        "per_label": _per_label(queries, scores, tiers.relevance["strict"], labels),
        "image_to_image": _image_to_image(bundle, emb, labels, max_queries=i2i_max_queries, n_boot=n_boot, seed=seed),
        "zero_shot_auc": zero_shot_auc(pack, emb, labels, text_model),
        "confusion": confusion_matrix(queries, order, labels, sorted({lab for lab_list in labels for lab in lab_list})),
        "hard_cases_summary": {k: hard[k] for k in ("count", "queries", "semantic_matches", "true_failures")},
        "per_query": records,
    }
    atomic_write_json(bundle_dir / METRICS, metrics)
    atomic_write_json(bundle_dir / HARD_CASES, hard)
    register_files(bundle_dir, EVAL_FILES)
    if report:
        from medmir.evaluate.report import write_report  # matplotlib: only when a report is asked for

        write_report(metrics, hard, out or bundle_dir / "report")
    return metrics


def _open(bundle_dir: Path, pack_dir: Path) -> tuple[Bundle, ModelPack]:
    """The bundle (verified) and the pack that indexed it."""
    bundle = Bundle.open(bundle_dir)
    pack = ModelPack.open(pack_dir)
    bundle.info.check_indexed_with(pack, bundle_dir)
    if bundle.count == 0:
        raise MedmirError(f"{bundle_dir}: the bundle is empty")
    return bundle, pack


def _tiers(
    queries: list[Query], scores: np.ndarray, tiers: TierSet, *, n_boot: int, seed: int, shuffles: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Text -> image: each tier's summary, and every query's record in every tier."""
    tier_out: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for tier in TIERS:
        summary, recs = _tier(
            tier, queries, scores, tiers.relevance[tier], tiers.kept[tier], n_boot=n_boot, seed=seed, shuffles=shuffles
        )
        tier_out[tier] = summary
        records += recs
    return tier_out, records


def _image_to_image(
    bundle: Bundle, emb: np.ndarray, labels: list[list[str]], *, max_queries: int, n_boot: int, seed: int
) -> dict[str, Any]:
    """Image -> image, leave-one-out, with the CBIR figures of Denner et al."""
    i2i = image_to_image(
        emb, labels, [m.get("patient_id") or "" for m in bundle.metadata], max_queries=max_queries, seed=seed
    )
    cis = bootstrap_cis(i2i["per_query"], n_boot=n_boot, seed=seed)
    return {
        "definition": "leave-one-out: each image queries all others; relevant = shares a label; same-patient images "
        "excluded",
        "queries": i2i["queries"],
        "sampled": i2i["sampled"],
        "mean_candidates": round(i2i["mean_candidates"], 1),
        "metrics": {
            m: {
                "value": round(float(i2i["per_query"][m].mean()), 6),
                "ci95": [round(cis[m][0], 6), round(cis[m][1], 6)],
                "chance": round(float(i2i["chance_per_query"][m].mean()), 6),
            }
            for m in I2I_METRICS
        },
        "cbir": cbir_figures(i2i, n_boot=n_boot, seed=seed),
    }


def _evaluated(bundle: Bundle, pack: ModelPack, text_model: Precision) -> dict[str, Any]:
    """What was evaluated: the model that embedded the queries and the one that indexed the bundle."""
    info = bundle.info
    return {
        "what": "the deployed system: the model pack's "
        + (
            "INT8 text model (what the browser runs)"
            if text_model == "int8"
            else "FP32 text model (not what the browser runs)"
        ),
        "text_model": text_model,
        "text_runtime": pack.text_runtime_label(text_model),
        "padding": "none: real token count, one query per run (the browser's policy)",
        "image_embeddings": info.image_embeddings,
        "model": info.model,
        "random_weights": info.random_weights,
        "warning": info.warning,
        "bundle_images": bundle.count,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "medmir": __version__,
    }
