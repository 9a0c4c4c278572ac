"""Image -> image retrieval, leave-one-out: each image queries all others, images of the same patient excluded (they
would be near-duplicates, not retrieval).

One ranking of each query image is read two ways:

- shares-a-label relevance (an image is relevant when it shares any label with the query): P@1/5/10, mAP@10,
  nDCG@10 and R-precision, with their exact chance values;
- the CBIR protocol of Denner et al. (label match, one label at a time): for each label L of the query, precision@k
  = the share of the query's top k that carries L; averaged over L's query images, then macro-averaged over labels
  (`cbir_figures`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medmir.evaluate.baselines import expected_precision_at_k, expected_random
from medmir.evaluate.metrics import label_precision_at_k, macro_by_label, metrics_and_top
from medmir.evaluate.stats import stratified_macro_cis
from medmir.evaluate.tiers import label_matrix

I2I_KS = (1, 5, 10)
I2I_METRICS = ("precision@1", "precision@5", "precision@10", "map@10", "ndcg@10", "r_precision")
CBIR_KS = (1, 3, 5, 10)
CBIR_METRICS = tuple(f"precision@{k}" for k in CBIR_KS)
_EXCLUDED = -3.0  # below any cosine: excluded images rank last and are never relevant

CBIR_DEFINITION = (
    "label-match CBIR protocol of Denner et al.: for each label L, each query image carrying L retrieves its top k "
    "(the query itself and images of the query's patient excluded); precision@k = share of the top k that carries L, "
    "averaged over L's query images, then over labels (macro)"
)
# Published reference, for scale only (not the same collection, splits or label set).
DENNER_BIOMEDCLIP = {
    "source": "Denner et al., Leveraging foundation models for content-based image retrieval in radiology, "
    "Computers in Biology and Medicine 196 (2025) 110640; arXiv:2403.06567",
    "model": "BiomedCLIP",
    "collection": "1.6 million 2D radiological images, four modalities, 161 pathologies",
    "values": {"precision@1": 0.594, "precision@3": 0.590, "precision@5": 0.588, "precision@10": 0.583},
    "comparable": False,
    "caveat": "measured on a different, much larger collection (four modalities, 161 pathologies, the authors' own "
    "index and query splits), so not directly comparable with figures on this bundle; shown for scale only",
}


def image_to_image(
    emb: np.ndarray,
    image_labels: list[list[str]],
    patient_ids: list[str],
    *,
    max_queries: int = 2000,
    seed: int = 0,
    block: int = 256,
) -> dict[str, Any]:
    """Per-query shares-a-label metrics (`I2I_METRICS`) and per-(query, label) CBIR precision@k (`CBIR_METRICS`),
    each with its exact chance value; at most `max_queries` query images (seeded sample) so that 112,120-image
    bundles stay affordable."""
    n = emb.shape[0]
    rng = np.random.default_rng(seed)
    queries = np.arange(n) if n <= max_queries else np.sort(rng.choice(n, max_queries, replace=False))
    vocab = sorted({lab for labels in image_labels for lab in labels})
    carries = label_matrix(image_labels, vocab)
    has = carries.astype(np.float32)
    pid = np.array([p or f"\0{i}" for i, p in enumerate(patient_ids)])  # unknown patient: only itself
    # the excluded images of a query are its patient's: candidates carrying label L = all carrying L - the patient's
    _, patient = np.unique(pid, return_inverse=True)
    patient_carries = np.zeros((int(patient.max()) + 1 if n else 0, len(vocab)), dtype=np.int64)
    np.add.at(patient_carries, patient, carries)
    all_carry = carries.sum(axis=0)
    top_k = max(CBIR_KS)
    values: dict[str, list[np.ndarray]] = {m: [] for m in I2I_METRICS}
    chance: dict[str, list[np.ndarray]] = {m: [] for m in I2I_METRICS}
    cbir: dict[str, list[np.ndarray]] = {m: [] for m in CBIR_METRICS}
    cbir_chance: dict[str, list[np.ndarray]] = {m: [] for m in CBIR_METRICS}
    candidates: list[np.ndarray] = []
    for start in range(0, len(queries), block):
        qb = queries[start : start + block]
        scores = np.asarray(emb[qb], dtype=np.float32) @ np.asarray(emb, dtype=np.float32).T
        rel = (has[qb] @ has.T) > 0
        excluded = pid[qb][:, None] == pid[None, :]
        excluded[np.arange(len(qb)), qb] = True
        scores[excluded] = _EXCLUDED
        rel[excluded] = False
        # one ranking per query: the shares-a-label metrics and the top images the CBIR protocol reads
        got, top = metrics_and_top(scores, rel, I2I_KS, top=top_k)
        n_cand = n - excluded.sum(axis=1)
        r = rel.sum(axis=1)
        exp = {m: np.zeros(len(qb)) for m in I2I_METRICS}
        for size in np.unique(n_cand):
            rows = n_cand == size
            e = expected_random(int(size), r[rows], ks=I2I_KS) if size > 0 else None
            for m in I2I_METRICS:
                exp[m][rows] = e[m] if e is not None else 0.0
        for m in I2I_METRICS:
            values[m].append(got[m])
            chance[m].append(exp[m])
        # an excluded image (ranked last) can reach the top k only when fewer than k candidates exist: never a match
        top_carries = carries[top] & ~np.take_along_axis(excluded, top, axis=1)[:, :, None]
        per_label = label_precision_at_k(top_carries, CBIR_KS)
        eligible_with = all_carry[None, :] - patient_carries[patient[qb]]  # [B, labels]
        for k, m in zip(CBIR_KS, CBIR_METRICS, strict=True):
            cbir[m].append(per_label[m])
            cbir_chance[m].append(expected_precision_at_k(n_cand[:, None], eligible_with, k))
        candidates.append(n_cand)
    return {
        "per_query": {m: np.concatenate(v) for m, v in values.items()},
        "chance_per_query": {m: np.concatenate(v) for m, v in chance.items()},
        "queries": len(queries),
        "sampled": bool(len(queries) < n),
        "mean_candidates": float(np.concatenate(candidates).mean()) if candidates else 0.0,
        "cbir": {
            "labels": vocab,
            "members": carries[queries],
            "per_query": {m: np.concatenate(v) for m, v in cbir.items()},
            "chance_per_query": {m: np.concatenate(v) for m, v in cbir_chance.items()},
            "images": carries.sum(axis=0),
        },
    }


def _figure(value: float, ci: tuple[float, float], chance: float) -> dict[str, Any]:
    return {"value": round(value, 6), "ci95": [round(ci[0], 6), round(ci[1], 6)], "chance": round(chance, 6)}


def cbir_figures(i2i: dict[str, Any], *, n_boot: int, seed: int) -> dict[str, Any]:
    """metrics.json's `image_to_image.cbir` from `image_to_image`'s output: macro and per-label precision@k with
    exact chance and stratified bootstrap intervals."""
    c = i2i["cbir"]
    members = np.asarray(c["members"], dtype=bool)
    labels: list[str] = list(c["labels"])
    present = [j for j in range(len(labels)) if members[:, j].any()]
    # a label's queries are the query images that carry it
    groups = {labels[j]: {m: c["per_query"][m][members[:, j], j] for m in CBIR_METRICS} for j in present}
    macro_ci, label_ci = stratified_macro_cis(groups, n_boot=n_boot, seed=seed)
    means = {m: macro_by_label(c["per_query"][m], members) for m in CBIR_METRICS}
    chances = {m: macro_by_label(c["chance_per_query"][m], members) for m in CBIR_METRICS}
    per_label = [
        {
            "label": labels[j],
            "images": int(c["images"][j]),
            "queries": int(members[:, j].sum()),
            "metrics": {
                m: _figure(float(means[m][0][j]), label_ci[labels[j]][m], float(chances[m][0][j])) for m in CBIR_METRICS
            },
        }
        for j in present
    ]
    return {
        "protocol": "Denner et al.",
        "definition": CBIR_DEFINITION,
        "ks": list(CBIR_KS),
        "labels": len(present),
        "labels_without_queries": [lab for j, lab in enumerate(labels) if j not in present],
        "query_label_pairs": int(members.sum()),
        "macro": {m: _figure(means[m][1], macro_ci[m], chances[m][1]) for m in CBIR_METRICS} if present else {},
        "per_label": per_label,
        "published": DENNER_BIOMEDCLIP,
    }
