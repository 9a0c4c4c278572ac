"""Write tests/fixtures/parity/{bands,filters,int8_ranking,columns}.json: cases `{case, input, expected}` whose
`expected` is the Python reference's answer (tests/parity_reference.py), for the TypeScript side to match.

Run: .venv/bin/python scripts/make_parity_tables.py  (or `make parity`)
The files are committed; tests/test_parity_tables.py re-runs every case through Python and fails if regenerating gives
other bytes, web/test/parity.test.ts runs every case through the web's implementation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "parity"
sys.path.insert(0, str(ROOT / "tests"))

from parity_reference import TABLES, Table  # noqa: E402


def _json(x: Any) -> str:
    return json.dumps(x, sort_keys=True, ensure_ascii=True, allow_nan=False)


def build(table: Table) -> dict[str, Any]:
    """The table's document: `about`, its shared entries, and each case with the Python reference's answer."""
    cases = []
    for c in table.cases:
        inp = json.loads(_json(c.input))  # what a reader of the file gets: lists, not tuples
        case = {"case": c.name, "input": inp, "expected": table.run(inp, table.shared)}
        if c.web_differs:
            case["web_differs"] = c.web_differs
        cases.append(case)
    names = [c["case"] for c in cases]
    if len(set(names)) != len(names):
        raise SystemExit(f"{table.name}: two cases share a name")
    return {"about": table.about, **table.shared, "cases": cases}


def render(doc: dict[str, Any]) -> str:
    """Sorted keys, one case a line (a diff shows which case changed)."""
    parts = []
    for key in sorted(doc):
        if key == "cases":
            parts.append(' "cases": [\n' + ",\n".join("  " + _json(c) for c in doc["cases"]) + "\n ]")
        else:
            parts.append(f" {_json(key)}: {_json(doc[key])}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        doc = build(table)
        path = OUT / f"{table.name}.json"
        path.write_text(render(doc), encoding="utf-8")
        print(f"wrote {len(doc['cases'])} cases to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
