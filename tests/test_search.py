"""`medmir search` with a pack other than the bundle's: refused, or ranked with a loud warning when asked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP, NIH_SAMPLE

import medmir
from medmir.bundle.read import Bundle
from medmir.core.errors import MedmirError
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.model.pack import ModelPack

QUERY = "left pleural effusion"


@pytest.fixture(scope="module")
def bundle(tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    (root / "imgs").mkdir()
    names = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:5]
    for n in names:
        shutil.copy(NIH_SAMPLE / "images" / n, root / "imgs" / n)
    (root / "l.csv").write_text("filename,labels\n" + "".join(f"{n},Effusion\n" for n in names))
    build_index(IndexOptions(root / "imgs", root / "l.csv", tiny_pack, root / "bundle", workers=1))
    return root / "bundle"


@pytest.fixture(scope="module")
def other_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture and width as tiny_pack, other weights: the mix-up no dimension check can catch."""
    from medmir.model.checkpoint import init_random
    from medmir.model.export import export_pack

    root = tmp_path_factory.mktemp("other")
    init_random(BIOMEDCLIP, root / "ckpt", size="tiny", seed=2)
    export_pack(str(root / "ckpt"), root / "pack", log=lambda s: None)
    return root / "pack"


def _search(bundle: Path, pack: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medmir.cli", "--text-runtime", "native", "search", QUERY, "--bundle", str(bundle),
         "--model", str(pack), "--k", "3", "--json", *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_other_pack_is_refused(bundle: Path, tiny_pack: Path, other_pack: Path) -> None:
    assert ModelPack.open(other_pack).embed_dim == ModelPack.open(tiny_pack).embed_dim
    proc = _search(bundle, other_pack)
    message = " ".join(proc.stderr.split())
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert f"not the pack {bundle} was indexed with" in message and "--allow-other-model" in message
    with pytest.raises(MedmirError, match="not the pack"):
        medmir.open(bundle, other_pack)


def test_other_pack_allowed_with_a_loud_warning(bundle: Path, other_pack: Path) -> None:
    proc = _search(bundle, other_pack, "--allow-other-model")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" in proc.stderr and "mean nothing" in " ".join(proc.stderr.split())
    b, pack = Bundle.open(bundle), ModelPack.open(other_pack, text_runtime="native")
    scores = b.scores(pack.encode_text([QUERY], "int8")[0])  # the bundle's own scoring, either format
    want = [b.metadata[i]["filename"] for i in sorted(range(b.count), key=lambda j: (-scores[j], j))[:3]]
    assert [h["filename"] for h in json.loads(proc.stdout)] == want


def test_own_pack_never_warns(bundle: Path, tiny_pack: Path) -> None:
    for extra in ((), ("--allow-other-model",)):
        proc = _search(bundle, tiny_pack, *extra)
        assert proc.returncode == 0 and "WARNING" not in proc.stderr and len(json.loads(proc.stdout)) == 3
