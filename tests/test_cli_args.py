"""Command-line arguments: every bad count is a usage error (exit 2) naming the option, never a traceback; and
`medmir verify` on a file says it is a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medmir.cli.common import count
from medmir.cli.main import build_parser, main

INDEX = ["index", "--images", "i", "--labels", "l.csv", "--model", "m", "--out", "o"]
SEARCH = ["search", "q", "--bundle", "b", "--model", "m"]
SELECT = ["select", "--source", "s", "--labels", "l.csv", "--out", "o"]
EVALUATE = ["evaluate", "--bundle", "b", "--model", "m"]

BAD = [
    (INDEX, "--neighbors", "-3", "must be at least 1, got -3"),
    (INDEX, "--neighbors", "0", "must be at least 1, got 0"),
    (INDEX, "--neighbors", "ten", "expected a whole number, got 'ten'"),
    (INDEX, "--batch-size", "0", "must be at least 1"),
    (INDEX, "--workers", "-1", "must be at least 1"),
    (SEARCH, "--k", "0", "must be at least 1"),
    (SELECT, "--per-label", "0", "must be at least 1"),
    (SELECT, "--seed", "-1", "must be at least 0"),
    (EVALUATE, "--bootstrap", "0", "must be at least 1"),
    (EVALUATE, "--seed", "-1", "must be at least 0"),
    (["serve", "site"], "--port", "-1", "must be from 0 to 65535, got -1"),
    (["serve", "site"], "--port", "65536", "must be from 0 to 65535, got 65536"),
    (["build"], "--per-label", "0", "must be at least 1"),
    (["build"], "--workers", "0", "must be at least 1"),
    (["model", "init-random", "--config", "c", "--out", "o"], "--seed", "-2", "must be at least 0"),
]


@pytest.mark.parametrize(("argv", "option", "value", "why"), BAD, ids=[f"{b[0][0]} {b[1]} {b[2]}" for b in BAD])
def test_bad_counts_are_usage_errors_naming_the_option(
    argv: list[str], option: str, value: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*argv, option, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: {why}" in err
    assert "Traceback" not in err


def test_index_and_build_write_bundle_format_2_unless_told() -> None:
    parser = build_parser()
    for argv in (INDEX, ["build"]):
        assert parser.parse_args(argv).bundle_format == 2
        assert parser.parse_args([*argv, "--bundle-format", "1"]).bundle_format == 1


def test_a_real_process_exits_2_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "medmir.cli", *INDEX, "--neighbors", "-3"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "argument --neighbors: must be at least 1, got -3" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_count_accepts_its_range() -> None:
    assert count()("1") == 1 and count()(" 12 ") == 12
    assert count(0, 65535)("0") == 0 and count(0, 65535)("65535") == 65535


def test_verify_on_a_file_says_it_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "index_info.json"
    f.write_text("{}")
    assert main(["verify", str(f)]) == 2
    assert f"{f}: a file, not a bundle folder (give the folder that holds index_info.json)" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "absent")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err
