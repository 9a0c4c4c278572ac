"""Shared fixtures: the real BiomedCLIP config + vocab from ../shared, random-weight checkpoints and packs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BIOMEDCLIP = SHARED / "models" / "biomedclip"
NIH_SAMPLE = SHARED / "data" / "nih-sample"
FIXTURES = Path(__file__).parent / "fixtures"
__all__ = ["BIOMEDCLIP", "FIXTURES", "NIH_SAMPLE", "ROOT", "SHARED"]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (BIOMEDCLIP / "open_clip_config.json").exists():
        raise pytest.UsageError(f"{BIOMEDCLIP} not found: the tests need ../shared beside the repository")
    # the record of verified bundles (bundle/verify.py verify_once) in a folder of this run, never the user's home;
    # inherited by the commands the tests run
    import os
    import tempfile

    os.environ["MEDMIR_VERIFIED"] = str(Path(tempfile.mkdtemp(prefix="medmir-verified-")) / "verified.json")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmir.model.checkpoint import init_random

    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    init_random(BIOMEDCLIP, out, size="tiny", seed=1)
    return out


@pytest.fixture(scope="session")
def tiny_pack(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmir.model.export import export_pack

    out = tmp_path_factory.mktemp("pack") / "tiny"
    export_pack(str(tiny_checkpoint), out, log=lambda s: None)
    return out


@pytest.fixture(scope="session")
def full_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmir.model.checkpoint import init_random

    out = tmp_path_factory.mktemp("ckpt") / "full"
    init_random(BIOMEDCLIP, out, size="full", seed=0)
    return out


@pytest.fixture(scope="session")
def full_pack(full_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmir.model.export import export_pack

    out = tmp_path_factory.mktemp("pack") / "full"
    export_pack(str(full_checkpoint), out, log=lambda s: None)
    return out
