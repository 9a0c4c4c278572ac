"""The browser tokenizer's generated data: regenerating it must give the committed files exactly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from conftest import ROOT


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tokenizer_tables_regenerate_to_the_committed_file() -> None:
    mod = _script("make_web_tables")
    out: Path = mod.OUT
    committed = out.read_text(encoding="utf-8")
    built = mod.build()
    assert built == json.loads(committed), "run .venv/bin/python scripts/make_web_tables.py and commit the result"
    assert mod.render(built) == committed
    assert len(committed.encode("utf-8")) < 100_000


def test_tokenizer_fuzz_fixture_regenerates_to_the_committed_file() -> None:
    mod = _script("make_tokenizer_fuzz")
    out: Path = mod.OUT
    committed = out.read_text(encoding="utf-8")
    assert mod.render(mod.cases()) == committed, "run .venv/bin/python scripts/make_tokenizer_fuzz.py and commit it"
    assert len(committed.encode("utf-8")) < 600_000
    assert len(json.loads(committed)["cases"]) >= 2000
