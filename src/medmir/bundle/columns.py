"""Version 2 metadata.json: one array per field, and string tables for the repeated values (labels, patients, sex,
view), so 112,120 rows take a few MB instead of 36 MB, and a filter on a label or patient is an integer compare.

Rows come back as the version 1 entries (`id`, `filename`, `thumbnail`, `labels`, ...) for the Python code that
reads them; the report text is derived from the labels, as the writer of version 1 did, so it is not stored.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from medmir.bundle.format import FORMAT_NAME, IMAGES, thumbnail_name
from medmir.core.errors import MedmirError
from medmir.data.records import Record, facet_names

TABLES = ("labels", "patients", "sex", "view")
COLUMNS = ("filename", "labels", "primary_label", "patient", "age", "sex", "view")


class _Table:
    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def id(self, value: str) -> int:
        """Index of `value`; -1 for an empty value (unknown)."""
        if not value:
            return -1
        if value not in self._index:
            self._index[value] = len(self.values)
            self.values.append(value)
        return self._index[value]


def encode(records: list[Record]) -> dict[str, Any]:
    tables = {name: _Table() for name in TABLES}
    # label ids in sorted label order, so the table does not depend on row order
    for label in sorted({lab for r in records for lab in r.labels}):
        tables["labels"].id(label)
    cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for r in records:
        cols["filename"].append(r.filename)
        cols["labels"].append([tables["labels"].id(lab) for lab in r.labels])
        cols["primary_label"].append(tables["labels"].id(r.primary_label or (r.labels[0] if r.labels else "")))
        cols["patient"].append(tables["patients"].id(r.patient_id))
        cols["age"].append(r.age)
        cols["sex"].append(tables["sex"].id(r.sex))
        cols["view"].append(tables["view"].id(r.view))
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "count": len(records),
        "tables": {name: t.values for name, t in tables.items()},
        "columns": cols,
    }
    facets = _encode_facets(records)
    if facets:
        meta["facets"] = facets
    return meta


def _encode_facets(records: list[Record]) -> dict[str, Any]:
    """{name: {"values": [...], "rows": [index or -1 per row]}} for every facet any record has (docs/FORMAT.md)."""
    out: dict[str, Any] = {}
    for name in facet_names(records):
        table = _Table()
        rows = [table.id(dict(r.facets).get(name, "")) for r in records]
        out[name] = {"values": table.values, "rows": rows}
    return out


def _check_facets(facets: Any, n: int, where: str) -> dict[str, Any]:
    if facets is None:
        return {}
    if not isinstance(facets, dict):
        raise MedmirError(f"{where}: 'facets' must be an object")
    for name, f in facets.items():
        values, rows = (f.get("values"), f.get("rows")) if isinstance(f, dict) else (None, None)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise MedmirError(f"{where}: facet {name!r}: 'values' must be a list of strings")
        if not isinstance(rows, list) or len(rows) != n:
            raise MedmirError(f"{where}: facet {name!r}: 'rows' must list {n} values")
        if not all(type(i) is int and -1 <= i < len(values) for i in rows):
            raise MedmirError(f"{where}: facet {name!r}: a row's value is not an index of its 'values' (or -1)")
    return facets


class Rows(Sequence[dict[str, Any]]):
    """The rows as version 1 entries, each built when first asked for: a search that shows 10 of 112,120 rows builds
    10. The columns' shapes are checked at once; a row's values when it is built (`decode` checks them all)."""

    def __init__(self, meta: Any, n: int, where: str) -> None:
        if not isinstance(meta, dict) or not all(isinstance(meta.get(k), dict) for k in ("columns", "tables")):
            raise MedmirError(f"{where}: no 'columns' and 'tables' (not a version 2 metadata file)")
        self._cols, self._tables, self._n, self._where = meta["columns"], meta["tables"], n, where
        for name in COLUMNS:
            if not isinstance(self._cols.get(name), list) or len(self._cols[name]) != n:
                raise MedmirError(f"{where}: column {name!r} must list {n} values")
        for name in TABLES:
            if not isinstance(self._tables.get(name), list) or not all(isinstance(v, str) for v in self._tables[name]):
                raise MedmirError(f"{where}: table {name!r} must be a list of strings")
        self._facets = _check_facets(meta.get("facets"), n, where)
        self._built: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return self._n

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  (mutable contents, like a list)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        row = int(i) + self._n if int(i) < 0 else int(i)
        if not 0 <= row < self._n:
            raise IndexError(f"row {i} of {self._n}")
        if row not in self._built:
            self._built[row] = self._build(row)
        return self._built[row]

    @property
    def built(self) -> int:
        """How many rows were built so far."""
        return len(self._built)

    def label_ids(self, row: int) -> list[int]:
        """Row `row`'s label indices into `label_table` (no row built)."""
        return list(self._cols["labels"][row])

    @property
    def label_table(self) -> list[str]:
        return list(self._tables["labels"])

    def label_matrix(self) -> np.ndarray:
        """bool [rows, len(label_table)]: which rows carry which label, from the label column alone."""
        col, n_labels = self._cols["labels"], len(self._tables["labels"])
        if not all(isinstance(ids, list) for ids in col):
            raise MedmirError(f"{self._where}: labels must be a list of label indices in every row")
        counts = np.fromiter((len(ids) for ids in col), dtype=np.int64, count=self._n)
        flat = np.fromiter(itertools.chain.from_iterable(col), dtype=np.int64, count=int(counts.sum()))
        if flat.size and (flat.min() < 0 or flat.max() >= n_labels):
            raise MedmirError(f"{self._where}: a label index outside table 'labels' ({n_labels} labels)")
        has = np.zeros((self._n, n_labels), dtype=bool)
        has[np.repeat(np.arange(self._n), counts), flat] = True
        return has

    def facet_columns(self) -> dict[str, tuple[list[str], np.ndarray]]:
        """Per facet: (its values; int32 [rows], each row's value index or -1), from the facet columns alone."""
        return {name: (list(f["values"]), np.asarray(f["rows"], dtype=np.int32)) for name, f in self._facets.items()}

    def _look(self, table: str, i: Any, row: int) -> str:
        if i == -1:
            return ""
        if not isinstance(i, int) or not 0 <= i < len(self._tables[table]):
            raise MedmirError(f"{self._where}: row {row}: {i!r} is not an index of table {table!r}")
        return str(self._tables[table][i])

    def _build(self, i: int) -> dict[str, Any]:
        cols = self._cols
        ids = cols["labels"][i]
        labels = [self._look("labels", j, i) for j in ids] if isinstance(ids, list) else None
        if labels is None or "" in labels:
            raise MedmirError(f"{self._where}: row {i}: labels must be a list of label indices")
        record = Record(str(cols["filename"][i]), tuple(labels))
        return {
            "id": i,
            "filename": record.filename,
            "thumbnail": f"{IMAGES}/{thumbnail_name(record.filename)}",
            "labels": labels,
            "primary_label": self._look("labels", cols["primary_label"][i], i),
            "report": record.report,
            "patient_id": self._look("patients", cols["patient"][i], i),
            "age": cols["age"][i],
            "sex": self._look("sex", cols["sex"][i], i),
            "view": self._look("view", cols["view"][i], i),
            **self._row_facets(i),
        }

    def _row_facets(self, i: int) -> dict[str, Any]:
        have = {name: f["values"][f["rows"][i]] for name, f in self._facets.items() if f["rows"][i] >= 0}
        return {"facets": have} if have else {}


def decode(meta: Any, n: int, where: str) -> list[dict[str, Any]]:
    """Every row as a version 1 entry, each checked; a malformed file is an error naming `where`."""
    rows = Rows(meta, n, where)
    return [rows[i] for i in range(n)]
