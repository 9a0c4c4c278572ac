"""Zero-shot classification per label: each image's cosine with the label's prompt ensemble, scored by ROC AUC."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from medmir.evaluate.tiers import label_matrix, prompt_set, readable
from medmir.model.pack import ModelPack, Precision


def label_prompts(label: str, prompts: dict[str, Any]) -> list[str]:
    return list(
        prompts.get("overrides", {}).get(label) or [t.format(label=readable(label)) for t in prompts["templates"]]
    )


def zero_shot_auc(
    pack: ModelPack, emb: np.ndarray, image_labels: list[list[str]], precision: Precision
) -> dict[str, Any]:
    prompts = prompt_set()
    vocab = sorted({lab for labels in image_labels for lab in labels})
    has = label_matrix(image_labels, vocab)
    rows = []
    for j, label in enumerate(vocab):
        pos = int(has[:, j].sum())
        neg = len(image_labels) - pos
        texts = label_prompts(label, prompts)
        if pos == 0 or neg == 0:
            rows.append(
                {
                    "label": label,
                    "auc": None,
                    "positives": pos,
                    "negatives": neg,
                    "prompts": texts,
                    "note": "AUC undefined: needs positive and negative images",
                }
            )
            continue
        t = pack.encode_text(texts, precision).mean(axis=0)
        t /= np.linalg.norm(t)
        scores = np.asarray(emb @ t, dtype=np.float64)
        rows.append(
            {
                "label": label,
                "auc": round(float(roc_auc_score(has[:, j], scores)), 4),
                "positives": pos,
                "negatives": neg,
                "prompts": texts,
            }
        )
    aucs = [r["auc"] for r in rows if r["auc"] is not None]
    return {
        "method": "cosine of each image with the normalised mean embedding of the label's prompts; "
        "sklearn roc_auc_score",
        "templates": prompts["templates"],
        "labels": rows,
        "mean_auc": round(float(np.mean(aucs)), 4) if aucs else None,
        "chance": 0.5,
    }
