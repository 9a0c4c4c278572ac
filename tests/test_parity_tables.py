"""The parity tables (tests/fixtures/parity/*.json), Python's driver: every committed case's `input`, run through the
Python reference, gives its `expected`, and regenerating the tables gives the committed bytes.
web/test/parity.test.ts runs the same cases through the TypeScript implementation."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest
from conftest import FIXTURES, ROOT
from parity_reference import TABLES, Table, record_of

from medmir.bundle import columns

PARITY = FIXTURES / "parity"
REGENERATE = "run `make parity` (scripts/make_parity_tables.py) and commit the result"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_parity_tables", ROOT / "scripts" / "make_parity_tables.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _committed(table: Table) -> dict:
    return json.loads((PARITY / f"{table.name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_committed_case_gives_its_expected_answer(table: Table) -> None:
    doc = _committed(table)
    assert doc["about"] and doc["cases"]
    shared = {k: v for k, v in doc.items() if k not in ("about", "cases")}
    wrong = [c["case"] for c in doc["cases"] if table.run(c["input"], shared) != c["expected"]]
    assert not wrong, f"{table.name}: Python no longer gives `expected` for {wrong}; {REGENERATE} if that is meant"


def test_the_columns_table_holds_what_encode_writes() -> None:
    for c in _committed(next(t for t in TABLES if t.name == "columns"))["cases"]:
        if "records" in c["input"]:
            assert columns.encode([record_of(r) for r in c["input"]["records"]]) == c["input"]["metadata"], c["case"]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_tables_regenerate_to_the_committed_bytes(table: Table) -> None:
    mod = _script()
    committed = (PARITY / f"{table.name}.json").read_text(encoding="utf-8")
    assert mod.render(mod.build(table)) == committed, REGENERATE
    assert len(committed.encode("utf-8")) < 60_000
    assert sorted(p.stem for p in PARITY.glob("*.json")) == sorted(t.name for t in TABLES)
