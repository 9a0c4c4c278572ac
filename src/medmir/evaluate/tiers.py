"""Query sets, semantic groups, and the relevance matrix of each tier (strict, adjusted, semantic)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from medmir.core.errors import MedmirError

TIERS = ("strict", "adjusted", "semantic")
TIER_DOCS = {
    "strict": "relevant = one of the image's labels is the query's label; every query counts",
    "adjusted": "as strict, with the queries of labels that have no image in the bundle removed (listed)",
    "semantic": "relevant also when one of the image's labels shares a semantic group with the query's label",
}


@dataclass(frozen=True)
class Query:
    text: str
    label: str


def _resource(name: str) -> Any:
    return json.loads(resources.files("medmir.resources.eval").joinpath(name).read_text(encoding="utf-8"))


def eval_queries() -> list[Query]:
    """The curated queries: phrasings of the NIH labels."""
    return [Query(q["text"], q["label"]) for q in _resource("queries.json")["queries"]]


def readable(label: str) -> str:
    """A label as words: `Pleural_Thickening` -> `pleural thickening` (the form prompts and templates use)."""
    return label.replace("_", " ").lower()


def template_queries(labels: Iterable[str]) -> list[Query]:
    """Queries for labels without curated phrasings, from the documented templates of queries.json."""
    templates = _resource("queries.json")["templates_for_other_labels"]
    return [Query(t.format(label=readable(lab)), lab) for lab in labels for t in templates]


def queries_for(vocabulary: Iterable[str]) -> tuple[list[Query], list[str]]:
    """The default query set for a bundle's label vocabulary, and the labels queried from templates.

    Curated queries come in when one of their labels occurs in the bundle (an NIH collection); every other label of
    the bundle is queried from the templates, so a user's own vocabulary is evaluated too.
    """
    curated = eval_queries()
    curated_labels = {q.label for q in curated}
    vocab = sorted(set(vocabulary))
    other = [lab for lab in vocab if lab not in curated_labels]
    chosen = curated if curated_labels & set(vocab) else []
    return chosen + template_queries(other), other


def read_queries(path: Path) -> list[Query]:
    """A user's query set: a CSV with `text` and `label` columns, or JSON like resources/eval/queries.json."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MedmirError(f"{path}: cannot read the query file ({exc})") from exc
    if path.suffix.lower() == ".json":
        try:
            rows = [(i + 1, q) for i, q in enumerate(json.loads(raw)["queries"])]
        except (ValueError, KeyError, TypeError) as exc:
            raise MedmirError(f'{path}: not a query file (expected {{"queries": [{{"text", "label"}}, ...]}})') from exc
        where = "query"
    else:
        reader = csv.DictReader(raw.splitlines())
        if not reader.fieldnames or not {"text", "label"} <= set(reader.fieldnames):
            raise MedmirError(f"{path}: line 1 must be a header with `text` and `label` columns")
        rows = [(reader.line_num, q) for q in reader]
        where = "line"
    queries = [_query_row(path, where, n, q) for n, q in rows]
    if not queries:
        raise MedmirError(f"{path}: no queries")
    return queries


def _query_row(path: Path, where: str, n: int, q: Any) -> Query:
    text = q.get("text") if isinstance(q, dict) else None
    label = q.get("label") if isinstance(q, dict) else None
    if not isinstance(text, str) or not text.strip() or not isinstance(label, str) or not label.strip():
        raise MedmirError(f"{path} {where} {n}: needs a non-empty text and label")
    return Query(text.strip(), label.strip())


def semantic_groups() -> dict[str, list[str]]:
    return dict(_resource("groups.json")["groups"])


def prompt_set() -> dict[str, Any]:
    return _resource("prompts.json")


def related_labels(label: str, groups: dict[str, list[str]]) -> set[str]:
    """The label itself and every label sharing a group with it."""
    out = {label}
    for members in groups.values():
        if label in members:
            out.update(members)
    return out


def label_matrix(image_labels: list[list[str]], vocabulary: list[str]) -> np.ndarray:
    """bool [n_images, n_labels]: image i carries label j."""
    index = {lab: j for j, lab in enumerate(vocabulary)}
    m = np.zeros((len(image_labels), len(vocabulary)), dtype=bool)
    for i, labels in enumerate(image_labels):
        for lab in labels:
            if lab in index:
                m[i, index[lab]] = True
    return m


@dataclass
class TierSet:
    """Relevance for each tier over the same queries; `kept[tier]` marks the queries the tier scores."""

    relevance: dict[str, np.ndarray]
    kept: dict[str, np.ndarray]
    labels_without_images: list[str]


def build_tiers(queries: list[Query], image_labels: list[list[str]], groups: dict[str, list[str]]) -> TierSet:
    if not image_labels:
        raise MedmirError("the bundle is empty: nothing to evaluate")
    vocabulary = sorted({lab for labels in image_labels for lab in labels})
    if not vocabulary:
        raise MedmirError("the bundle's images carry no labels: relevance cannot be judged")
    query_labels = sorted({q.label for q in queries})
    if not set(query_labels) & set(vocabulary):
        raise MedmirError(
            f"none of the query labels ({', '.join(query_labels)}) occurs in the bundle "
            f"(its labels: {', '.join(vocabulary[:20])}); give a query set for this collection's vocabulary "
            "(medmir evaluate --queries FILE)"
        )
    full_vocab = sorted(set(vocabulary) | set(query_labels) | {m for g in groups.values() for m in g})
    has = label_matrix(image_labels, full_vocab)
    col = {lab: j for j, lab in enumerate(full_vocab)}
    strict = np.stack([has[:, col[q.label]] for q in queries])
    semantic = np.stack(
        [has[:, [col[lab] for lab in sorted(related_labels(q.label, groups))]].any(axis=1) for q in queries]
    )
    missing = sorted(lab for lab in query_labels if not has[:, col[lab]].any())
    all_q = np.ones(len(queries), dtype=bool)
    adjusted_kept = np.array([q.label not in missing for q in queries])
    return TierSet(
        relevance={"strict": strict, "adjusted": strict, "semantic": semantic},
        kept={"strict": all_q, "adjusted": adjusted_kept, "semantic": all_q},
        labels_without_images=missing,
    )
