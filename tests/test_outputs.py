"""Never delete what medmir did not write: every command's --out is replaced only when it is new, empty or its own
previous output; inputs, the current folder, its parents, home and / never, not even with --force."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP, NIH_SAMPLE

from medmir.cli.main import main
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.core.outputs import MARKER, check_output

IMAGES = ("00000075_000.png", "00000284_000.png", "00000442_000.png")


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_survives(root: Path, before: dict[str, bytes]) -> None:
    after = snapshot(root)
    lost = [k for k, v in before.items() if after.get(k) != v]
    assert not lost, f"changed or deleted: {lost[:5]}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project folder: source images, their CSV and notes."""
    root = tmp_path / "project"
    (root / "images").mkdir(parents=True)
    for n in IMAGES:
        shutil.copy(NIH_SAMPLE / "images" / n, root / "images" / n)
    (root / "labels.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in IMAGES))
    (root / "notes.txt").write_text("my notes")
    return root


def test_protected_folders_are_refused_even_with_force(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "images")
    link = project.parent / "link-to-images"
    link.symlink_to(project / "images")
    home = project.parent / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    inputs = [project / "images", project / "labels.csv"]
    for out, why in [
        (Path("."), "the current folder"),
        (project, "a parent of the current folder"),
        (Path("/"), "the root"),
        (home, "your home folder"),
        (link, "current folder"),  # the link resolves to the current folder
        (project / "images", "current folder"),
    ]:
        for force in (False, True):
            with pytest.raises(MedmirError, match=why):
                check_output(out, "index", inputs=inputs, force=force)
    monkeypatch.chdir(project.parent)
    with pytest.raises(MedmirError, match="contains this command's input"):
        check_output(project, "index", inputs=inputs, force=True)
    for out in (link, project / "images"):
        with pytest.raises(MedmirError, match="this command's input"):
            check_output(out, "index", inputs=inputs, force=True)


def test_only_new_empty_or_own_outputs_are_replaced(tmp_path: Path) -> None:
    stranger = tmp_path / "docs"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("not medmir's")
    with pytest.raises(MedmirError, match=r"not a medmir output .*--force"):
        check_output(stranger, "site")
    assert check_output(stranger, "site", force=True) == stranger.resolve()
    assert check_output(tmp_path / "new", "site") == (tmp_path / "new").resolve()
    (tmp_path / "empty").mkdir()
    assert check_output(tmp_path / "empty", "site")
    own = tmp_path / "own"
    with staging_dir(own, "select") as tmp:
        (tmp / "labels.csv").write_text("x")
    assert json.loads((own / MARKER).read_text())["command"] == "select"
    with staging_dir(own, "select") as tmp:  # its own previous output: replaced
        (tmp / "labels.csv").write_text("y")
    assert (own / "labels.csv").read_text() == "y"
    with pytest.raises(MedmirError, match=r"a `medmir select` output"):
        check_output(own, "index")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(MedmirError, match="is a file"):
        check_output(tmp_path / "afile", "index")


def test_stale_partials_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".out.partial-999999999-abc"  # no such process
    alive = tmp_path / f".out.partial-{os.getpid()}-abc"  # a run in progress (this one)
    dead.mkdir()
    alive.mkdir()
    with staging_dir(tmp_path / "out", "select"):
        pass
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "out"])


def _cli(*args: str) -> int:
    return main([*args])


def test_commands_refuse_inputs_and_strangers(
    project: Path, tiny_pack: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    before = snapshot(project)
    monkeypatch.chdir(project)
    common = ["--images", "images", "--labels", "labels.csv", "--model", str(tiny_pack)]
    assert _cli("index", *common, "--out", ".") == 2
    assert "the current folder" in capsys.readouterr().err
    assert _cli("index", *common, "--out", "images", "--force") == 2
    assert _cli("index", *common, "--out", str(project.parent), "--force") == 2
    assert _cli("select", "--source", "images", "--labels", "labels.csv", "--out", "images") == 2
    assert _cli("model", "export", "--source", str(tiny_checkpoint), "--out", str(tiny_checkpoint)) == 2
    assert _cli("model", "init-random", "--config", str(BIOMEDCLIP), "--out", str(project), "--size", "tiny") == 2
    assert_survives(project, before)
    # a stranger's folder: refused, then replaced only with --force
    docs = project.parent / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("theirs")
    assert _cli("index", *common, "--out", str(docs)) == 2
    assert (docs / "index.md").read_text() == "theirs"
    assert "--force" in capsys.readouterr().err
    assert _cli("index", *common, "--out", str(project.parent / "bundle")) == 0
    assert _cli("index", *common, "--out", str(project.parent / "bundle")) == 0  # its own output: replaced
    assert _cli("site", "--bundle", str(project.parent / "bundle"), "--model", str(tiny_pack), "--out", str(docs)) == 2
    assert (docs / "index.md").read_text() == "theirs"
    assert_survives(project, before)
