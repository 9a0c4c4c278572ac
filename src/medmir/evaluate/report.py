"""report.md + PNG plots from metrics.json and hard_cases.json (matplotlib, no display needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from medmir.core.fsutil import atomic_write_bytes


def _fmt(f: dict[str, Any]) -> str:
    lo, hi = f["ci95"]
    return f"{f['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def _save(fig: plt.Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _plot_hit_at_k(metrics: dict[str, Any], path: Path) -> None:
    ks = metrics["ks"]
    fig, ax = plt.subplots(figsize=(6, 4))
    for tier, style in zip(metrics["tiers"], ("-o", "-s", "-^"), strict=False):
        m = metrics["tiers"][tier]["metrics"]
        ax.plot(ks, [m[f"hit@{k}"]["value"] for k in ks], style, label=tier)
        ax.plot(ks, [m[f"hit@{k}"]["chance"] for k in ks], ":", color=ax.lines[-1].get_color(), label=f"{tier} chance")
    ax.set_xlabel("K")
    ax.set_ylabel("Hit@K (at least one relevant in the top K)")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ks)
    ax.legend(fontsize=7)
    ax.set_title("Text -> image Hit@K by tier, with chance")
    _save(fig, path)


def _plot_per_label(metrics: dict[str, Any], path: Path) -> None:
    rows = metrics["per_label"]
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["ap"] for r in rows], 0.4, label="AP")
    ax.bar(x + 0.2, [r["chance_ap"] for r in rows], 0.4, label="AP by chance")
    ax.set_xticks(x, [r["label"] for r in rows], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("average precision (strict)")
    ax.legend()
    ax.set_title("Per-label AP vs chance")
    _save(fig, path)


def _plot_confusion(metrics: dict[str, Any], path: Path) -> None:
    c = metrics["confusion"]
    m = np.array(c["share"])
    fig, ax = plt.subplots(figsize=(8, 6))
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=max(m.max(), 1e-9))
    ax.set_xticks(range(len(c["columns"])), c["columns"], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(c["rows"])), c["rows"], fontsize=7)
    ax.set_xlabel(f"labels of the top-{c['k']} images")
    ax.set_ylabel("query label")
    fig.colorbar(im, ax=ax, label="share")
    ax.set_title("What each query label retrieves")
    _save(fig, path)


def _cbir_lines(c: dict[str, Any] | None) -> list[str]:
    """The CBIR protocol (Denner et al.): macro P@k with chance and the published reference, then per label."""
    if not c or not c.get("macro"):
        return []
    pub = c["published"]
    lines = [
        "",
        f"### CBIR protocol ({c['protocol']})",
        "",
        f"{c['definition']}. {c['labels']} labels, {c['query_label_pairs']} (query, label) pairs.",
        "",
        f"| metric | macro over labels [95% CI] | chance | published {pub['model']} |",
        "|---|---|---|---|",
    ]
    for n, f in c["macro"].items():
        ref = pub["values"].get(n)
        lines.append(f"| {n} | {_fmt(f)} | {f['chance']:.3f} | {'' if ref is None else f'{ref:.3f}'} |")
    lines += ["", f"Published: {pub['source']} ({pub['collection']}). Caveat: {pub['caveat']}.", ""]
    ks = list(c["macro"])
    lines += ["| label | images | queries | " + " | ".join(f"{n} (chance)" for n in ks) + " |"]
    lines += ["|---|---|---|" + "---|" * len(ks)]
    for r in c["per_label"]:
        cells = " | ".join(f"{r['metrics'][n]['value']:.3f} ({r['metrics'][n]['chance']:.3f})" for n in ks)
        lines.append(f"| {r['label']} | {r['images']} | {r['queries']} | {cells} |")
    return lines


def write_report(metrics: dict[str, Any], hard: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    _plot_hit_at_k(metrics, out / "hit_at_k.png")
    _plot_per_label(metrics, out / "per_label.png")
    _plot_confusion(metrics, out / "confusion.png")
    lines = [
        *_header_lines(metrics),
        *_text_lines(metrics),
        *_image_lines(metrics),
        *_zero_shot_lines(metrics["zero_shot_auc"]),
        *_hard_lines(hard),
        "",
        "![Confusion](confusion.png)",
        "",
        "## Metric definitions",
        "",
        *(f"- **{k}**: {v}" for k, v in metrics["metric_docs"].items()),
    ]
    path = out / "report.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _header_lines(metrics: dict[str, Any]) -> list[str]:
    ev = metrics["evaluated"]
    lines = ["# medmir evaluation report", ""]
    if ev["random_weights"]:
        lines += [
            "> **Random weights: results are meaningless.** This bundle was built with a random-weight pack; every",
            "> figure below should sit at chance.",
            "",
        ]
    return [
        *lines,
        f"Evaluated: {ev['what']}; {ev['padding']}. Model: {ev['model'].get('title')} "
        f"({ev['model'].get('source')}). {ev['bundle_images']} images. Created {ev['created']}.",
        "",
        f"Every figure: value [95% CI: {metrics['ci']}] and, beside it, chance = {metrics['chance']}.",
        "",
    ]


def _text_lines(metrics: dict[str, Any]) -> list[str]:
    """Text -> image, a table per tier, then per label."""
    # precision@1 and recall@1 repeat hit@1 for one relevant image; their @10 versions stay
    names = [n for n in metrics["tiers"]["strict"]["metrics"] if n not in ("precision@1", "recall@1")]
    lines: list[str] = []
    for tier, t in metrics["tiers"].items():
        lines += [f"## Text -> image, {tier} tier", "", f"{t['definition']}. {t['queries']} queries.", ""]
        if t["excluded_queries"]:
            lines += [f"Excluded (label without images): {', '.join(t['excluded_queries'])}", ""]
        lines += ["| metric | value [95% CI] | chance |", "|---|---|---|"]
        lines += [f"| {n} | {_fmt(t['metrics'][n])} | {t['metrics'][n]['chance']:.3f} |" for n in names]
        lines.append("")
    lines += [
        "![Hit@K](hit_at_k.png)",
        "",
        "## Per label (strict)",
        "",
        "| label | images | Hit@10 | AP | AP by chance |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['label']} | {r['images']} | {r['hit@10']:.3f} | {r['ap']:.3f} | {r['chance_ap']:.3f} |"
        for r in metrics["per_label"]
    ]
    return lines


def _image_lines(metrics: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "![Per label](per_label.png)",
        "",
        "## Image -> image",
        "",
        metrics["image_to_image"]["definition"] + ".",
        "",
        "| metric | value [95% CI] | chance |",
        "|---|---|---|",
    ]
    for n, f in metrics["image_to_image"]["metrics"].items():
        lines.append(f"| {n} | {_fmt(f)} | {f['chance']:.3f} |")
    return lines + _cbir_lines(metrics["image_to_image"].get("cbir"))


def _zero_shot_lines(z: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Zero-shot per-label AUC",
        "",
        z["method"] + f". Chance = {z['chance']}.",
        "",
        "| label | AUC | positives | negatives |",
        "|---|---|---|---|",
    ]
    for r in z["labels"]:
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f}"
        lines.append(f"| {r['label']} | {auc} | {r['positives']} | {r['negatives']} |")
    return [*lines, "", f"Mean AUC: {z['mean_auc']}"]


def _hard_lines(hard: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Hard cases",
        "",
        hard["rule"] + ".",
        f"{hard['count']} of {hard['queries']} queries: {hard['semantic_matches']} semantic matches, "
        f"{hard['true_failures']} true failures.",
        "",
        "| query | label | verdict | top-1 labels |",
        "|---|---|---|---|",
    ]
    for c in hard["cases"]:
        lines.append(f"| {c['query']} | {c['label']} | {c['verdict']} | {', '.join(c['retrieved'][0]['labels'])} |")
    if hard["recurring_confusion_pairs"]:
        lines += [
            "",
            "Recurring confusion pairs (query label -> retrieved label, count): "
            + "; ".join(
                f"{p['query_label']} -> {p['retrieved_label']} ({p['count']})"
                for p in hard["recurring_confusion_pairs"]
            ),
        ]
    return lines
