"""Image -> image retrieval, leave-one-out: each image queries all others, sharing a label = relevant, images of
the same patient excluded (they would be near-duplicates, not retrieval)."""

from __future__ import annotations

from typing import Any

import numpy as np

from medmir.evaluate.baselines import expected_random
from medmir.evaluate.metrics import per_query_metrics
from medmir.evaluate.tiers import label_matrix

I2I_KS = (1, 5, 10)
I2I_METRICS = ("precision@1", "precision@5", "precision@10", "map@10")
_EXCLUDED = -3.0  # below any cosine: excluded images rank last and are never relevant


def image_to_image(
    emb: np.ndarray,
    image_labels: list[list[str]],
    patient_ids: list[str],
    *,
    max_queries: int = 2000,
    seed: int = 0,
    block: int = 256,
) -> dict[str, Any]:
    """Per-query P@1/5/10 and mAP@10 with their exact chance values; at most `max_queries` query images (seeded
    sample) so that 112,120-image bundles stay affordable."""
    n = emb.shape[0]
    rng = np.random.default_rng(seed)
    queries = np.arange(n) if n <= max_queries else np.sort(rng.choice(n, max_queries, replace=False))
    vocab = sorted({lab for labels in image_labels for lab in labels})
    has = label_matrix(image_labels, vocab).astype(np.float32)
    pid = np.array([p or f"\0{i}" for i, p in enumerate(patient_ids)])  # unknown patient: only itself
    values: dict[str, list[np.ndarray]] = {m: [] for m in I2I_METRICS}
    chance: dict[str, list[np.ndarray]] = {m: [] for m in I2I_METRICS}
    candidates: list[np.ndarray] = []
    for start in range(0, len(queries), block):
        qb = queries[start : start + block]
        scores = np.asarray(emb[qb], dtype=np.float32) @ np.asarray(emb, dtype=np.float32).T
        rel = (has[qb] @ has.T) > 0
        excluded = pid[qb][:, None] == pid[None, :]
        excluded[np.arange(len(qb)), qb] = True
        scores[excluded] = _EXCLUDED
        rel[excluded] = False
        got = per_query_metrics(scores, rel, ks=I2I_KS)
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
        candidates.append(n_cand)
    return {
        "per_query": {m: np.concatenate(v) for m, v in values.items()},
        "chance_per_query": {m: np.concatenate(v) for m, v in chance.items()},
        "queries": len(queries),
        "sampled": bool(len(queries) < n),
        "mean_candidates": float(np.concatenate(candidates).mean()) if candidates else 0.0,
    }
