"""`medmir verify` (a bundle against its contract) and `medmir evaluate` (retrieval metrics by tier with chance
baselines and CIs, hard cases, the report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.markup import escape

from medmir.cli.common import RANDOM_WEIGHTS, Subparsers, count, err

# The metrics printed for each tier (metrics.json key, as shown), in order.
TIER_METRICS = (("hit@10", "Hit@10"), ("map@10", "mAP@10"), ("mrr", "MRR"), ("ndcg@10", "nDCG@10"),
                ("r_precision", "R-prec"))  # fmt: skip


def _verify(a: argparse.Namespace) -> int:
    from medmir.bundle.verify import verify_bundle  # numpy: kept out of the start of every other command

    for line in verify_bundle(a.bundle, thumbnails=not a.skip_thumbnails):
        err.print(f"[green]ok[/green] {escape(line)}", soft_wrap=True)
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from medmir.evaluate.run import evaluate  # onnxruntime, scipy and pandas: this command only

    m = evaluate(
        a.bundle, a.model, a.out, text_model=a.text_model, n_boot=a.bootstrap, seed=a.seed, queries_file=a.queries
    )
    ev = m["evaluated"]
    err.print(f"evaluated {escape(ev['what'])}; {ev['bundle_images']} images, {m['queries']['count']} queries")
    for tier, t in m["tiers"].items():
        err.print(f"  {tier:9s} {_tier_line(t['metrics'])}")
    cbir = m["image_to_image"].get("cbir", {}).get("macro", {})
    if "precision@10" in cbir:
        p10 = cbir["precision@10"]
        err.print(f"  image -> image, Denner et al.'s CBIR protocol: macro P@10 {p10['value']:.3f} "
                  f"(chance {p10['chance']:.3f}; same-patient images excluded)")  # fmt: skip
    if m["queries"]["labels_from_templates"]:
        templated = ", ".join(m["queries"]["labels_from_templates"])
        err.print(f"queried from templates (no curated phrasings): {escape(templated)}")
    if m["queries"]["labels_without_images"]:
        err.print(f"labels without images: {escape(', '.join(m['queries']['labels_without_images']))}")
    err.print(f"wrote metrics.json and hard_cases.json in {escape(str(a.bundle))}")
    if ev["random_weights"]:
        err.print(RANDOM_WEIGHTS)
    return 0


def _tier_line(f: dict[str, Any]) -> str:
    """One tier's headline metrics, each beside its chance."""
    return "  ".join(f"{shown} {f[key]['value']:.3f} (chance {f[key]['chance']:.3f})" for key, shown in TIER_METRICS)


def register(subparsers: Subparsers) -> None:
    """`medmir verify` and `medmir evaluate`."""
    ve = subparsers.add_parser("verify", help="check a bundle against its contract")
    ve.add_argument("bundle", type=Path)
    ve.add_argument("--skip-thumbnails", action="store_true")
    ve.set_defaults(fn=_verify)

    ev = subparsers.add_parser(
        "evaluate", help="Recall/mAP/MRR by tier with chance baselines and CIs, hard cases, report"
    )
    ev.add_argument("--bundle", required=True, type=Path)
    ev.add_argument("--model", required=True, type=Path, help="the pack the bundle was indexed with")
    ev.add_argument("--out", type=Path, default=None, help="report folder (default: BUNDLE/report)")
    ev.add_argument("--text-model", choices=("int8", "fp32"), default="int8", help="int8 = what the browser runs")
    ev.add_argument("--bootstrap", type=count(), default=1000, help="bootstrap resamples for the 95%% CIs")
    ev.add_argument("--seed", type=count(0), default=0)
    ev.add_argument(
        "--queries",
        type=Path,
        default=None,
        help="your query set: CSV with text,label columns (or JSON); default: curated NIH queries, and template "
        "queries for labels without them",
    )
    ev.set_defaults(fn=_evaluate)
