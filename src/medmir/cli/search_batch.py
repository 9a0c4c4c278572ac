"""Many queries in one run (`medmir search --queries FILE`): reading the queries, ranking them under a transient
bar, writing the results."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.markup import escape

from medmir.cli.common import err, progress_bar
from medmir.core.errors import MedmirError
from medmir.core.fsutil import atomic_write_bytes
from medmir.core.progress import task_progress

if TYPE_CHECKING:
    from medmir.api import Collection, Filters, Result


def read_queries(path: Path) -> list[str]:
    """A text file, one query a line (blank lines skipped), or a CSV (.csv) with a `query` column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MedmirError(f"{path}: not found") from None
    except UnicodeDecodeError as exc:
        raise MedmirError(f"{path}: not UTF-8 text ({exc})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if "query" not in (reader.fieldnames or []):
            raise MedmirError(f"{path}: a CSV of queries needs a 'query' column (it has {reader.fieldnames})")
        queries = [(row.get("query") or "").strip() for row in reader]
        blank = [i + 2 for i, q in enumerate(queries) if not q]
        if blank:
            raise MedmirError(f"{path}: line {blank[0]} has an empty query")
    else:
        queries = [line.strip() for line in text.splitlines() if line.strip()]
    if not queries:
        raise MedmirError(f"{path}: no queries")
    return queries


def write_results(results: Iterable[tuple[str, list[Result]]], out: Path | None, fmt: str) -> int:
    """JSON lines ({"query", "results": [...]}) or CSV rows (query, rank, filename, score, labels, patient), to `out`
    (written whole, atomically) or stdout; returns the number of queries."""
    if out is None:
        return _write(results, sys.stdout, fmt)
    buf = io.StringIO()
    n = _write(results, buf, fmt)
    atomic_write_bytes(out, buf.getvalue().encode("utf-8"))
    return n


def _write(results: Iterable[tuple[str, list[Result]]], f: TextIO, fmt: str) -> int:
    n = 0
    w = csv.writer(f) if fmt == "csv" else None
    if w is not None:
        w.writerow(["query", "rank", "filename", "score", "labels", "patient"])
    for query, rs in results:
        n += 1
        if w is None:
            f.write(json.dumps({"query": query, "results": [r.as_json() for r in rs]}, ensure_ascii=False) + "\n")
            continue
        for r in rs:
            w.writerow([query, r.rank, r.filename, f"{r.score:.6f}", "|".join(r.labels), r.patient])
    return n


def search_many(col: Collection, queries: list[str], a: argparse.Namespace, filters: Filters) -> int:
    """--queries FILE: one query a line, or a CSV with a `query` column; JSON lines (default) or CSV out."""
    with progress_bar(transient=True) as bar:
        advance = task_progress(bar, "searching", len(queries))

        def results() -> Iterator[tuple[str, list[Result]]]:
            for q, rs in zip(queries, col.search_many(queries, a.k, filters), strict=True):
                advance(1)
                yield q, rs

        n = write_results(results(), a.out, "csv" if a.csv else "jsonl")
    err.print(f"{n} queries, {n * a.k} results at most" + (f" -> {escape(str(a.out))}" if a.out else ""))
    return 0
