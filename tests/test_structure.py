"""The structure check `make lint` runs (scripts/check_structure.py): the tree passes it, and it catches what it is
for: a cycle hidden in a function, a `_private` import, an over-long function."""

from __future__ import annotations

from pathlib import Path

from scripts import check_structure


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_tree_has_no_cycle_private_import_or_long_function(capsys: object) -> None:
    assert check_structure.main() == 0


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    src = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg.b import g\n\ndef f():\n    return g()\n",
        "b.py": "def g():\n    from pkg import a  # hidden from Python, not from the check\n    return a\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n",
    })  # fmt: skip
    assert check_structure.import_cycles(src) == ["pkg.a -> pkg.b import each other (a cycle)"]


def test_a_private_name_and_a_long_function_are_found(tmp_path: Path) -> None:
    user = tmp_path / "user.py"
    user.write_text("import medmir.api\nfrom medmir.model.tokenizer import _helper\n\nx = medmir.api._rank\n")
    found = list(check_structure.private_imports(user, root=tmp_path))
    assert [line.split(": ", 1)[1] for line in found] == [
        "imports medmir.model.tokenizer._helper",
        "uses medmir.api._rank",
    ]
    long = tmp_path / "long.py"
    long.write_text("def f():\n" + "    x = 1\n" * 80)
    assert [line.split(": ", 1)[1] for line in check_structure.long_functions(long)] == ["f is 81 lines (at most 80)"]
