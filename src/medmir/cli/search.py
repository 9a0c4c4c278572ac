"""`medmir search`: the Python API (medmir.api) on the command line: one text or image query as a table or JSON,
its embedding, or many queries in one run (medmir.cli.search_batch)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medmir.cli.common import RANDOM_WEIGHTS, Subparsers, count, err, facet_filter
from medmir.cli.search_batch import read_queries, search_many
from medmir.core.errors import MedmirError

if TYPE_CHECKING:
    from medmir.api import Collection


def _search(a: argparse.Namespace) -> int:
    from medmir.api import Filters  # onnxruntime: only the commands that run a pack
    from medmir.api import open as open_collection

    if sum(x is not None for x in (a.text, a.image, a.queries)) != 1:
        raise MedmirError("give a query TEXT, --image PATH or --queries FILE (one of them)")
    queries = read_queries(a.queries) if a.queries is not None else None  # a bad file is named before the bundle
    col = open_collection(a.bundle, a.model, verify=not a.no_verify, precision=a.precision,
                          allow_other_model=a.allow_other_model, start_text=a.image is None)  # fmt: skip
    with col:
        if a.allow_other_model and not _indexed_with(col):
            err.print(
                f"[bold red]WARNING: {escape(str(a.model))} is not the pack {escape(str(a.bundle))} was indexed with: "
                "queries and images are embedded by different models, so these scores and ranks mean nothing"
                "[/bold red]",
                soft_wrap=True,
            )
        filters = Filters(tuple(a.any_label), tuple(a.all_labels), tuple(a.no_label), dict(a.facet))
        if queries is not None:
            return search_many(col, queries, a, filters)
        query = a.image if a.image is not None else a.text
        if a.query_embedding:
            vec = col.query_vector(query)
            sys.stdout.write(json.dumps([round(float(v), 7) for v in vec]) + "\n")
            return 0
        results = col.search(query, a.k, filters)
        if a.json:
            sys.stdout.write(json.dumps([r.as_json() for r in results], ensure_ascii=False) + "\n")
            return 0
        table = Table("rank", "score", "file", "labels", "patient")
        for r in results:
            table.add_row(str(r.rank), f"{r.score:.4f}", escape(r.filename), escape(", ".join(r.labels)),
                          escape(r.patient))  # fmt: skip
        Console(highlight=False).print(table)
        if col.pack.random_weights:
            err.print(RANDOM_WEIGHTS)
    return 0


def _indexed_with(col: Collection) -> bool:
    return col.bundle.info.indexed_with(col.pack)


def register(subparsers: Subparsers) -> None:
    sr = subparsers.add_parser("search", help="rank a bundle for a text or an image (the browser's ranking)")
    sr.add_argument("text", nargs="?", default=None, help="a text query")
    sr.add_argument("--image", type=Path, default=None, help="an image query (PNG, JPEG, DICOM, ...)")
    sr.add_argument("--queries", type=Path, default=None,
                    help="many queries in one run: a text file (one a line), or a CSV with a 'query' "
                         "column")  # fmt: skip
    sr.add_argument("--out", type=Path, default=None, help="--queries: write the results here (default: stdout)")
    sr.add_argument("--csv", action="store_true", help="--queries: CSV (query, rank, filename, score, labels, "
                    "patient) instead of JSON lines")  # fmt: skip
    sr.add_argument("--any-label", action="append", default=[], metavar="LABEL", help="only rows with one of these")
    sr.add_argument("--all-labels", action="append", default=[], metavar="LABEL", help="only rows with all of these")
    sr.add_argument("--no-label", action="append", default=[], metavar="LABEL", help="no row with any of these")
    sr.add_argument("--facet", action="append", default=[], type=facet_filter, metavar="NAME=V1,V2",
                    help="only rows whose facet NAME (DICOM: modality, body_part, view, age_band, study_year) is "
                         "one of the values")  # fmt: skip
    sr.add_argument("--bundle", required=True, type=Path, help="the index bundle to search")
    sr.add_argument("--model", required=True, type=Path, help="the model pack the bundle was indexed with")
    sr.add_argument("--k", type=count(), default=10, help="results a query (default: 10)")
    sr.add_argument("--precision", choices=("fp32", "int8"), default="int8", help="query encoder (browser: int8)")
    sr.add_argument("--json", action="store_true",
                    help='print [{"rank", "filename", "score", "labels", "patient", "row", "band"}, ...] (band: '
                         '"close", "similar", "related" or "", from the bundle\'s score_bands)')  # fmt: skip
    sr.add_argument("--no-verify", action="store_true",
                    help="skip the checks of the bundle and pack (done once anyway until a file changes)")  # fmt: skip
    sr.add_argument("--query-embedding", action="store_true", help="print the query's embedding instead (JSON)")
    sr.add_argument("--allow-other-model", action="store_true",
                    help="rank with a pack other than the one the bundle was indexed with (the scores then mean "
                         "nothing; warns)")  # fmt: skip
    sr.set_defaults(fn=_search)
