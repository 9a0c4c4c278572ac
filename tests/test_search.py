"""`medmir search` with a pack other than the bundle's: refused, or ranked with a loud warning when asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BundleFactory, PackFactory

import medmir
from medmir.bundle.read import Bundle
from medmir.core.errors import MedmirError
from medmir.model.pack import ModelPack

QUERY = "left pleural effusion"


@pytest.fixture(scope="module")
def bundle(nih_bundle: BundleFactory) -> Path:
    return nih_bundle(5, 2, labels=("Effusion",))


@pytest.fixture(scope="module")
def other_pack(random_pack: PackFactory) -> Path:
    """Same architecture and width as tiny_pack, other weights: the mix-up no dimension check can catch."""
    return random_pack("tiny", 2)


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
