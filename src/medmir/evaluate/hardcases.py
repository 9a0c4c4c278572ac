"""Hard cases under the multi-label rule: queries whose top-1 image carries none of the query's label.

A miss is a *semantic match* when the top-1 image carries a label of the query label's semantic group, otherwise a
*true failure*. Confusion pairs count (query label, retrieved label) over every label of each missed top-1 image.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from medmir.evaluate.tiers import Query, related_labels


def hard_cases(
    queries: list[Query],
    order: np.ndarray,
    image_labels: list[list[str]],
    filenames: list[str],
    groups: dict[str, list[str]],
    top: int = 5,
) -> dict[str, Any]:
    cases = []
    pairs: Counter[tuple[str, str]] = Counter()
    for qi, q in enumerate(queries):
        best = int(order[qi, 0])
        top1 = image_labels[best]
        if q.label in top1:
            continue
        near = related_labels(q.label, groups) - {q.label}
        shared = sorted(near & set(top1))
        for lab in top1:
            pairs[(q.label, lab)] += 1
        cases.append(
            {
                "query": q.text,
                "label": q.label,
                "verdict": "semantic match" if shared else "true failure",
                "shared_group_labels": shared,
                "retrieved": [
                    {"rank": r + 1, "id": int(i), "filename": filenames[int(i)], "labels": image_labels[int(i)]}
                    for r, i in enumerate(order[qi, :top])
                ],
            }
        )
    recurring = [{"query_label": a, "retrieved_label": b, "count": n} for (a, b), n in pairs.most_common() if n >= 2]
    return {
        "rule": "a query is a hard case when its top-1 image carries none of the query's label (multi-label rule)",
        "count": len(cases),
        "queries": len(queries),
        "semantic_matches": sum(c["verdict"] == "semantic match" for c in cases),
        "true_failures": sum(c["verdict"] == "true failure" for c in cases),
        "cases": cases,
        "confusion_pairs": [{"query_label": a, "retrieved_label": b, "count": n} for (a, b), n in pairs.most_common()],
        "recurring_confusion_pairs": recurring,
    }


def confusion_matrix(
    queries: list[Query], order: np.ndarray, image_labels: list[list[str]], vocabulary: list[str], k: int = 10
) -> dict[str, Any]:
    """Row = query label, column = label: share of that label among the labels of the top-k images retrieved."""
    rows = sorted({q.label for q in queries})
    col = {lab: j for j, lab in enumerate(vocabulary)}
    m = np.zeros((len(rows), len(vocabulary)))
    for qi, q in enumerate(queries):
        for i in order[qi, :k]:
            for lab in image_labels[int(i)]:
                if lab in col:
                    m[rows.index(q.label), col[lab]] += 1
    sums = m.sum(axis=1, keepdims=True)
    m = np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)
    return {"rows": rows, "columns": vocabulary, "k": k, "share": np.round(m, 4).tolist()}
