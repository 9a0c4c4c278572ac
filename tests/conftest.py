"""Shared fixtures: the real BiomedCLIP config + vocab from ../shared, random-weight checkpoints and packs, and
bundles of the NIH sample built once per session.

Building is what the suite spends its time on, so each distinct checkpoint, pack and bundle is made once per session
(`random_checkpoint`, `random_pack`, `nih_bundle`), every index run here shares one embedding cache (`embed_cache`:
keyed by the image's sha256, the pack and the precision, so a shared cache gives the same vectors and only saves
time), and the paths handed out are read-only by contract: a test that changes a bundle or a pack copies it first
(shutil.copytree). The session checks at its end that no shared bundle was changed in place."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BIOMEDCLIP = SHARED / "models" / "biomedclip"
NIH_SAMPLE = SHARED / "data" / "nih-sample"
NIH_LABELS = NIH_SAMPLE / "Data_Entry_2017_v2020.csv.gz"
FIXTURES = Path(__file__).parent / "fixtures"
__all__ = ["BIOMEDCLIP", "FIXTURES", "NIH_LABELS", "NIH_SAMPLE", "ROOT", "SHARED", "BundleFactory", "PackFactory",
           "nih_names"]  # fmt: skip

# nih_bundle(n, version, shard_rows=..., labels=..., pack=..., **IndexOptions fields) -> a read-only bundle folder
BundleFactory = Callable[..., Path]
# random_pack(size, seed, **export_pack options) -> a read-only model pack folder
PackFactory = Callable[..., Path]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not (BIOMEDCLIP / "open_clip_config.json").exists():
        raise pytest.UsageError(f"{BIOMEDCLIP} not found: the tests need ../shared beside the repository")
    # the record of verified bundles (bundle/verify.py verify_once) in a folder of this run, never the user's home;
    # inherited by the commands the tests run
    import os
    import tempfile

    os.environ["MEDMIR_VERIFIED"] = str(Path(tempfile.mkdtemp(prefix="medmir-verified-")) / "verified.json")


def nih_names(n: int | None = None) -> list[str]:
    """The first `n` file names of the NIH sample in sorted order (all of them for None)."""
    return sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:n]


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], Path]:
    """random_checkpoint(size, seed): a random-weight checkpoint folder named `size`, made once per session."""
    from medmir.model.checkpoint import init_random  # lazy: torch only for the tests that need a model

    made: dict[tuple[str, int], Path] = {}

    def make(size: str, seed: int) -> Path:
        if (size, seed) not in made:
            out = tmp_path_factory.mktemp("ckpt") / size
            init_random(BIOMEDCLIP, out, size=size, seed=seed)
            made[size, seed] = out
        return made[size, seed]

    return make


@pytest.fixture(scope="session")
def random_pack(random_checkpoint: Callable[[str, int], Path], tmp_path_factory: pytest.TempPathFactory) -> PackFactory:
    """random_pack(size, seed, **export_pack options): the pack of random_checkpoint(size, seed), once per session."""
    from medmir.model.export import export_pack  # lazy: torch and open_clip only for the tests that need a pack

    made: dict[tuple[Any, ...], Path] = {}

    def make(size: str, seed: int, **options: Any) -> Path:
        key = (size, seed, *sorted(options.items()))
        if key not in made:
            out = tmp_path_factory.mktemp("pack") / size
            export_pack(str(random_checkpoint(size, seed)), out, log=lambda s: None, **options)
            made[key] = out
        return made[key]

    return make


@pytest.fixture(scope="session")
def tiny_checkpoint(random_checkpoint: Callable[[str, int], Path]) -> Path:
    return random_checkpoint("tiny", 1)


@pytest.fixture(scope="session")
def tiny_pack(random_pack: PackFactory) -> Path:
    return random_pack("tiny", 1)


@pytest.fixture(scope="session")
def full_checkpoint(random_checkpoint: Callable[[str, int], Path]) -> Path:
    return random_checkpoint("full", 0)


@pytest.fixture(scope="session")
def full_pack(random_pack: PackFactory) -> Path:
    return random_pack("full", 0)


@pytest.fixture(scope="session")
def embed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one embedding cache folder of the session's shared index runs (re-embedding an image is free)."""
    return tmp_path_factory.mktemp("embed-cache")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="session")
def nih_bundle(tiny_pack: Path, embed_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BundleFactory]:
    """nih_bundle(n, version, shard_rows=..., labels=None, pack=None, **options) -> the bundle of the first `n`
    images of the NIH sample (all 400 for None) in bundle format `version`, built once per distinct arguments.

    `labels`: None for the NIH label file's rows (real labels, patients, ages); a tuple of label names to give image i
    `labels[i % len(labels)]` in a plain `filename,labels` file. `pack`: tiny_pack unless given. `options`: more
    IndexOptions fields (thumbs_per_pack, neighbors, precision, ...). The folder is shared: copy it to change it."""
    # lazy: onnxruntime only for the tests that index
    from medmir.bundle.format import SHARD_ROWS
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    root = tmp_path_factory.mktemp("nih-bundles")
    built: dict[tuple[Any, ...], Path] = {}
    states: dict[Path, dict[str, tuple[int, int]]] = {}

    def images(n: int | None) -> Path:
        if n is None:
            return NIH_SAMPLE / "images"
        folder = root / f"images-{n}"
        if not folder.is_dir():
            folder.mkdir()
            for name in nih_names(n):
                shutil.copy(NIH_SAMPLE / "images" / name, folder / name)
        return folder

    def label_file(n: int | None, labels: tuple[str, ...] | None) -> Path:
        out = root / (f"labels-{n}-{'-'.join(labels)}.csv" if labels is not None else f"nih-labels-{n}.csv")
        if out.is_file():
            return out
        names = nih_names(n)
        with out.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            if labels is None:  # the NIH file's own rows for these images: the same records, without reading 112,120
                with gzip.open(NIH_LABELS, "rt", newline="") as src:
                    rows = csv.reader(src)
                    w.writerow(next(rows))
                    wanted = set(names)
                    w.writerows(row for row in rows if row[0] in wanted)
            else:
                w.writerow(["filename", "labels"])
                w.writerows([name, labels[i % len(labels)]] for i, name in enumerate(names))
        return out

    def make(n: int | None, version: int, shard_rows: int = SHARD_ROWS, *, labels: tuple[str, ...] | None = None,
             pack: Path | None = None, **options: Any) -> Path:  # fmt: skip
        # the worker count changes how fast, not what: no worker start-up for a few images
        workers = options.pop("workers", 2 if n is None or n > 50 else 1)
        key = (n, version, shard_rows, labels, pack, *sorted(options.items()))
        if key not in built:
            out = root / f"bundle-{len(built)}"
            build_index(IndexOptions(images(n), label_file(n, labels), pack or tiny_pack, out, workers=workers,
                        bundle_format=version, shard_rows=shard_rows, cache_dir=embed_cache, **options))  # fmt: skip
            built[key], states[out] = out, _snapshot(out)
        return built[key]

    yield make
    changed = [str(b) for b, state in states.items() if _snapshot(b) != state]
    assert not changed, f"a test changed a shared nih_bundle in place (copy it first): {changed}"
