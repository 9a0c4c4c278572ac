"""Score bands: what a similarity score means in *this* collection (contract: docs/FORMAT.md, `score_bands`).

A cosine score has no fixed meaning: text-to-image scores of a CLIP-like model sit far below image-to-image ones,
and both shift with the model and the collection. So the bands are read off the bundle's own score distributions at
index time, one set for image queries (every row's stored nearest neighbours) and one for text queries (the
precomputed fallback queries' top results), by the same three quantiles:

- close: at least the median best score (the score the typical image reaches with its most similar other image;
  the score the typical clinical query reaches with its best image);
- similar: at least the median k-th score (what the typical image or query reaches with its k-th best match);
- related: at least the 10th percentile of the k-th scores (9 images or queries in 10 have k matches at least
  this close);
- below related: no band ("no confident match" when even the best result is below it).

Each row of the neighbours dominates its own k-th score, so close >= similar >= related holds by construction (and
is enforced against floating-point rounding).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

BandKind = Literal["image", "text"]
BANDS = ("close", "similar", "related")
RELATED_QUANTILE = 0.10
METHOD = (
    "quantiles of this bundle's own scores; image: close = median of every image's best-neighbour score, similar = "
    "median of every image's k-th (last stored) neighbour score, related = 10th percentile of those k-th scores "
    "(nearest neighbours); text: the same quantiles of the fallback queries' top-1 and k-th scores "
    "(fallback_results.json); below related: no confident match"
)


def _bands(best: np.ndarray, kth: np.ndarray) -> dict[str, float] | None:
    """close / similar / related from the best and the k-th scores of each row or query (None without any)."""
    if best.size == 0 or kth.size == 0:
        return None
    # int8 rows' dot products can pass 1 by a little (a duplicate image scores 1.003): a band is a cosine, in [-1, 1]
    best, kth = np.clip(best.astype(np.float64), -1.0, 1.0), np.clip(kth.astype(np.float64), -1.0, 1.0)
    close = round(float(np.quantile(best, 0.5)), 6)
    similar = min(close, round(float(np.quantile(kth, 0.5)), 6))
    related = min(similar, round(float(np.quantile(kth, RELATED_QUANTILE)), 6))
    return {"close": close, "similar": similar, "related": related}


def score_bands(neighbor_scores: np.ndarray, fallback: dict[str, Any]) -> dict[str, Any]:
    """index_info.json `score_bands` from the neighbour scores [count, k] (best first) and fallback_results.json.
    A kind is null when the bundle holds no score of it (a one-image bundle has no neighbours)."""
    nn = np.asarray(neighbor_scores, dtype=np.float64).reshape(len(neighbor_scores), -1)
    lists = [q["scores"] for q in fallback["queries"] if q["scores"]]
    text_best, text_kth = (np.array([s[i] for s in lists], np.float64) for i in (0, -1))
    image = _bands(nn[:, 0], nn[:, -1]) if nn.shape[1] else None
    return {"image": image, "text": _bands(text_best, text_kth), "method": METHOD}


def band(score: float, bands: Mapping[str, Any] | None, kind: BandKind) -> str:
    """The band of a score of a `kind` query (text; or image: an image, a vector, a row, the neighbours): "close",
    "similar", "related", or "" (below related, or a bundle without bands)."""
    b = (bands or {}).get(kind)
    return next((name for name in BANDS if b and score >= b[name]), "")


def check_score_bands(x: Any) -> str | None:
    """What is wrong with an index_info.json `score_bands` value, or None."""
    if not isinstance(x, dict) or not isinstance(x.get("method"), str):
        return "score_bands must be an object with image, text and method"
    for kind in ("image", "text"):
        b = x.get(kind)
        if b is None:
            continue
        if not isinstance(b, dict):
            return f"score_bands.{kind} must be an object or null"
        vals = [b.get(name) for name in BANDS]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
            return f"score_bands.{kind}: close, similar and related must be finite numbers"
        if not all(-1.0 - 1e-6 <= v <= 1.0 + 1e-6 for v in vals):
            return f"score_bands.{kind}: scores lie in [-1, 1]"
        if not vals[0] >= vals[1] >= vals[2]:
            return f"score_bands.{kind}: close >= similar >= related does not hold ({vals})"
    return None
