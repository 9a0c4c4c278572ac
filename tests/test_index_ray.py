"""`medmir index --engine ray` on a real local Ray cluster that these tests start (127.0.0.1, 2 CPUs) and stop: the
local engine's bundle byte for byte, bad images reported as the local engine reports them, a killed worker retried,
a killed driver resumed from its shards with no image embedded twice."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE

from medmir.index.options import IndexOptions
from medmir.index.run import build_index

pytest.importorskip("ray")
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on 127.0.0.1 with 2 CPUs and its own token (never ~/.ray's), stopped after the module."""
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = _free_port()
    start = [str(RAY), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats"]  # fmt: skip
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """12 real NIH images, each under 4 names (48 sources, for runs long enough to interrupt), and a truncated
    PNG; a labels CSV for all of them."""
    root = tmp_path_factory.mktemp("ray-images")
    images = root / "images"
    images.mkdir()
    rows = ["filename,labels"]
    for n in sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[:12]:
        for copy in range(4):
            name = f"c{copy}_{n}"
            shutil.copy(NIH_SAMPLE / "images" / n, images / name)
            rows.append(f"{name},Effusion|Mass" if copy % 2 else f"{name},No Finding")
    data = (NIH_SAMPLE / "images" / n).read_bytes()
    (images / "truncated.png").write_bytes(data[: len(data) // 3])
    rows.append("truncated.png,Mass")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return images, root / "labels.csv"


def _ray_cmd(images: Path, labels: Path, pack: Path, out: Path, shards: Path, address: str) -> list[str]:
    return [sys.executable, "-m", "medmir.cli", "index", "--images", str(images), "--labels", str(labels),
            "--model", str(pack), "--out", str(out), "--engine", "ray", "--address", address, "--shards",
            str(shards), "--batch-size", "2"]  # fmt: skip


def _shard_rows(shards: Path) -> list[str]:
    """The source path of every row of every shard."""
    sources = []
    for f in sorted(shards.rglob("shard-*.npz")):
        with np.load(f) as z:
            sources.extend(str(s) for s in z["source"])
    return sources


def _same_bundle(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name == "index_info.json":
            ia, ib = (json.loads((d / name).read_text()) for d in (a, b))
            ia.pop("created"), ib.pop("created")
            assert ia == ib
        elif name != ".medmir-output.json":  # its time stamp
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def local_run(
    collection: tuple[Path, Path], tiny_pack: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """The local engine's bundle of the collection, and what it reported skipping (file -> why)."""
    images, labels = collection
    out = tmp_path_factory.mktemp("local") / "bundle"
    rep = build_index(IndexOptions(images, labels, tiny_pack, out, workers=2))
    skipped = dict(rep.skipped.items)
    assert str(images / "truncated.png") in skipped
    return out, skipped


@pytest.fixture(scope="module")
def local_bundle(local_run: tuple[Path, dict[str, str]]) -> Path:
    return local_run[0]


def test_ray_writes_the_local_engines_bundle_and_reports_the_same(
    cluster: tuple[str, dict[str, str]], collection: tuple[Path, Path], tiny_pack: Path,
    local_run: tuple[Path, dict[str, str]], tmp_path: Path,
) -> None:  # fmt: skip
    address, env = cluster
    images, labels = collection
    out = tmp_path / "bundle"
    done = subprocess.run(_ray_cmd(images, labels, tiny_pack, out, tmp_path / "shards", address), env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    local_bundle, local_skipped = local_run
    _same_bundle(local_bundle, out)
    why = local_skipped[str(images / "truncated.png")]
    said = " ".join(done.stderr.split())
    assert f"skipped {images / 'truncated.png'}: {why}" in said
    assert "48 images indexed (48 embedded" in said
    assert len(_shard_rows(tmp_path / "shards")) == 49  # the bad image's error is kept too


def _started(cmd: list[str], env: dict[str, str], shards: Path, timeout: float = 120) -> subprocess.Popen[str]:
    """`cmd` running, once it has written its first shard (so it is mid-run)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + timeout
        while not list(shards.rglob("shard-*.npz")):
            assert proc.poll() is None, f"the run ended before a shard was written: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < end, "no shard written"
            time.sleep(0.05)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    """Kill `proc` if it still runs, and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_a_killed_worker_is_retried(
    cluster: tuple[str, dict[str, str]], collection: tuple[Path, Path], tiny_pack: Path, local_bundle: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    address, env = cluster
    images, labels = collection
    out, shards = tmp_path / "bundle", tmp_path / "shards"
    proc = _started(_ray_cmd(images, labels, tiny_pack, out, shards, address), env, shards)
    try:
        workers = subprocess.run(["pgrep", "-f", "ray::MapWorker"], capture_output=True, text=True).stdout.split()
        assert workers, "no Ray worker running the pipeline"
        os.kill(int(workers[0]), signal.SIGKILL)
        _, err = proc.communicate(timeout=600)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err[-3000:]
    _same_bundle(local_bundle, out)
    rows = _shard_rows(shards)
    assert len(rows) == len(set(rows)) == 49, "every image once"


def test_a_killed_driver_resumes_from_its_shards(
    cluster: tuple[str, dict[str, str]], collection: tuple[Path, Path], tiny_pack: Path, local_bundle: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    address, env = cluster
    images, labels = collection
    out, shards = tmp_path / "bundle", tmp_path / "shards"
    cmd = _ray_cmd(images, labels, tiny_pack, out, shards, address)
    proc = _started(cmd, env, shards)
    _stop(proc)
    before = _shard_rows(shards)
    assert 0 < len(before) < 49 and not out.exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_bundle(local_bundle, out)
    rows = _shard_rows(shards)
    assert len(rows) == len(set(rows)) == 49, "no image embedded twice"
    good_before = len([r for r in before if not r.endswith("truncated.png")])
    said = " ".join(done.stderr.split())
    assert f"({48 - good_before} embedded" in said and f"{good_before} from cache" in said


def test_the_doc_quotes_the_committed_benchmark() -> None:
    from benchmarks import index_ray
    from benchmarks.report import read_block, read_result

    r = read_result("index_ray")
    assert r["engines"]["ray_1"]["same_bundle_as_local"] and r["engines"]["ray_2"]["same_bundle_as_local"]
    assert read_block(index_ray.DOC, index_ray.BLOCK) == index_ray.render(r).strip()


def test_update_with_the_ray_engine(
    cluster: tuple[str, dict[str, str]], tiny_pack: Path, local_bundle: Path, tmp_path: Path
) -> None:
    address, env = cluster
    bundle = tmp_path / "bundle"
    shutil.copytree(local_bundle, bundle)
    new = tmp_path / "new"
    new.mkdir()
    added = sorted(p.name for p in (NIH_SAMPLE / "images").iterdir())[12:14]
    for n in added:
        shutil.copy(NIH_SAMPLE / "images" / n, new / n)
    cmd = [sys.executable, "-m", "medmir.cli", "index", "--update", str(bundle), "--images", str(new), "--model",
           str(tiny_pack), "--engine", "ray", "--address", address, "--shards", str(tmp_path / "shards")]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "50 images in the bundle: 48 kept, 0 removed, 2 added (2 embedded" in " ".join(done.stderr.split())
    from medmir.bundle.read import Bundle
    from medmir.bundle.verify import verify_bundle

    verify_bundle(bundle)
    assert [m["filename"] for m in Bundle.open(bundle).metadata][48:] == added


def test_the_torch_model_on_ray(
    cluster: tuple[str, dict[str, str]], collection: tuple[Path, Path], tiny_pack: Path, tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    """`--device cuda` on Ray runs the checkpoint in PyTorch actors fed by CPU decode tasks; here on the CPU, against
    the local torch engine (same rows up to float rounding, same thumbnails and metadata)."""
    from medmir.bundle.read import Bundle

    address, env = cluster
    images, labels = collection
    opts = {"backend": "torch", "device": "cpu", "torch_dtype": "fp32", "checkpoint": tiny_checkpoint,
            "batch_size": 4}  # fmt: skip
    local = build_index(IndexOptions(images, labels, tiny_pack, tmp_path / "local", workers=1, **opts))
    # in a process of its own: Ray reads its token settings when imported
    script = (
        "import sys; from pathlib import Path; from medmir.index.run import build_index\n"
        "from medmir.index.options import IndexOptions\n"
        "a = [Path(x) for x in sys.argv[1:6]]\n"
        "r = build_index(IndexOptions(a[0], a[1], a[2], a[3], engine='ray', ray_address=sys.argv[6], shards=a[4],"
        " backend='torch',"
        " device='cpu', torch_dtype='fp32', checkpoint=Path(sys.argv[7]), batch_size=4))\n"
        "print(r.embedded)\n"
    )
    args = [images, labels, tiny_pack, tmp_path / "ray", tmp_path / "shards", address, tiny_checkpoint]
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == local.embedded == 48
    a, b = Bundle.open(tmp_path / "local"), Bundle.open(tmp_path / "ray")
    assert list(a.metadata) == list(b.metadata) and a.info.image_embeddings == b.info.image_embeddings
    ea, eb = (e / np.linalg.norm(e, axis=1, keepdims=True) for e in (a.embeddings, b.embeddings))
    assert np.min(np.sum(ea * eb, axis=1)) > 0.9999
    assert all(a.thumbnail(i) == b.thumbnail(i) for i in range(a.count))
    assert (tmp_path / "shards" / "torch-fp32-exact" / "store.json").is_file()
