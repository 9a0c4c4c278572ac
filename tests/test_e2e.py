"""Browser end-to-end: a site built from the NIH sample with the full-size random pack, in Debian's Chromium.

The checks themselves are in web/e2e/site.test.mjs (playwright-core); this test builds the sites, serves them on
127.0.0.1 and runs it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import NIH_SAMPLE, ROOT

from medmir.data.subset import select
from medmir.evaluate.run import evaluate
from medmir.index.options import IndexOptions
from medmir.index.run import build_index
from medmir.site.build import WEB_DIST, build_site
from medmir.site.parts import PART_BYTES, PARTS_FILE

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
HTML_NAME = "<img src=x onerror=alert(1)>.png"
HTML_LABEL = "<script>alert(1)</script>"
# more hostile names (checked by "hostile names: thumbnail URLs, long labels, bidi controls"): URL syntax in a
# file name, a label with no break opportunity, and a right-to-left override that would show "gnp.exe" as "exe.png"
URL_NAME = "scan #1?v=2&x=%41.png"
LONG_LABEL = "Q" * 5000
BIDI_NAME = "bidi\u202egnp.exe\u2066.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(proc: subprocess.Popen, port: int, what: str) -> tuple[subprocess.Popen, str]:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} did not start")


Serve = Callable[[Path], tuple[subprocess.Popen, str]]


@pytest.fixture()
def serve() -> Iterator[Serve]:
    """serve(site) -> (process, URL): `medmir serve` on a free port, stopped when the test ends, however it ends."""
    procs: list[subprocess.Popen] = []

    def start(site: Path) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "medmir.cli", "serve", str(site), "--port", str(port)]))
        return _listening(procs[-1], port, "medmir serve")

    yield start
    _stop(procs)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _run_e2e(script: str, env: dict[str, str], timeout: int = 600) -> None:
    """Run web/e2e/`script` with node's test runner; fail with its output. In a session of its own, so that however
    it ends no browser it started lives on."""
    proc = subprocess.Popen(
        ["node", "--test", "--test-reporter=spec", str(ROOT / "web" / "e2e" / script)],
        cwd=ROOT / "web", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of its process group (none when all went well)
        proc.communicate()
    assert proc.returncode == 0, out[-6000:] + err[-3000:]


@pytest.fixture(scope="module")
def e2e_bundle(full_pack: Path, embed_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    sel = root / "sel"
    select(NIH_SAMPLE / "images", NIH_SAMPLE / "Data_Entry_2017_v2020.csv.gz", sel, per_label=3, seed=5)
    # one image whose name and label are HTML: the site must show them as text
    shutil.copy(NIH_SAMPLE / "images" / "00000075_000.png", sel / "images" / HTML_NAME)
    # images the selection does not hold (nor HTML_NAME's copy), so each one's own nearest image is itself
    spare = sorted(set(os.listdir(NIH_SAMPLE / "images")) - set(os.listdir(sel / "images")) - {"00000075_000.png"})
    for name, src in zip((URL_NAME, BIDI_NAME), spare[:2], strict=True):
        shutil.copy(NIH_SAMPLE / "images" / src, sel / "images" / name)
    with (sel / "labels.csv").open("a", encoding="utf-8") as f:
        f.write(f'"{HTML_NAME}",{HTML_LABEL},{HTML_LABEL},x,,,\n')
        f.write(f'"{URL_NAME}",{LONG_LABEL},{LONG_LABEL},y,,,\n')
        f.write(f'"{BIDI_NAME}",Effusion,Effusion,z,,,\n')
    build_index(IndexOptions(sel / "images", sel / "labels.csv", full_pack, root / "bundle", precision="int8",
                bundle_format=1, cache_dir=embed_cache))  # fmt: skip
    evaluate(root / "bundle", full_pack, n_boot=200, report=False)
    return root / "bundle"


@pytest.fixture(scope="module")
def e2e_site(e2e_bundle: Path, full_pack: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site of e2e_bundle, for every browser test of that bundle (they only read it)."""
    return build_site(e2e_bundle, full_pack, tmp_path_factory.mktemp("e2e-site") / "site").out


def test_site_in_chromium(e2e_bundle: Path, e2e_site: Path, full_pack: Path, serve: Serve, tmp_path: Path) -> None:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"{WEB_DIST} missing: `make test` builds the web app first (npm --prefix web run build)")
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    site = e2e_site
    # no file over a static host's 25 MB limit: the models are published in parts (src/medmir/parts.py)
    assert max(p.stat().st_size for p in site.rglob("*") if p.is_file()) <= PART_BYTES
    split = json.loads((site / PARTS_FILE).read_text())["files"]["model/text.int8.onnx"]["parts"]
    tampered = tmp_path / "tampered"
    shutil.copytree(site, tampered)
    model = tampered / split[len(split) // 2]  # one byte of one part: the joined file's sha256 must catch it
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    bad_size = tmp_path / "badsize"
    shutil.copytree(site, bad_size)
    info = json.loads((bad_size / "data" / "index_info.json").read_text())
    info["files"]["embeddings.bin"]["bytes"] += 4
    (bad_size / "data" / "index_info.json").write_text(json.dumps(info))

    from PIL import Image

    corrupt = tmp_path / "corrupt.png"
    raw = bytearray((NIH_SAMPLE / "images" / "00000075_000.png").read_bytes())
    corrupt.write_bytes(bytes(raw[:2000]))
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.fromarray(np.zeros((10_000, 10_000), dtype=np.uint8)).save(huge, optimize=False)
    long = tmp_path / "long.png"  # ~100 bytes; used to hang the page for minutes in the model resize
    Image.new("L", (40_000, 1)).save(long)

    main, url = serve(site)
    _, url_t = serve(tampered)
    _, url_b = serve(bad_size)
    env = {
        **os.environ,
        "E2E_URL": url,
        "E2E_SITE": str(site),
        "E2E_PYTHON": sys.executable,
        "E2E_BUNDLE": str(e2e_bundle),
        "E2E_PACK": str(full_pack),
        "E2E_IMAGE": str(NIH_SAMPLE / "images" / "00000284_000.png"),
        "E2E_SERVER_PID": str(main.pid),
        "E2E_BAD": json.dumps(
            {
                "corrupt": str(corrupt),
                "text": str(text),
                "huge": str(huge),
                "long": str(long),
                "tamperedUrl": url_t,
                "badSizeUrl": url_b,
            }
        ),
    }
    if os.environ.get("MEDMIR_SCREENSHOTS"):
        env["E2E_SCREENSHOTS"] = str(ROOT / "docs" / "screenshots")
    _run_e2e("site.test.mjs", env, timeout=900)


@pytest.fixture(scope="module")
def e2e_bundle_patients(
    e2e_bundle: Path, full_pack: Path, embed_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The e2e selection plus two follow-ups of one of its patients (the NIH sample has one image per patient): an
    exact copy of the patient's image (a follow-up that looks the same: its nearest neighbour) and another image.
    A bundle of its own, so the other e2e bundles keep one image per patient and their flat comparisons."""
    root = tmp_path_factory.mktemp("e2e-patients")
    sel = root / "sel"
    shutil.copytree(e2e_bundle.parent / "sel", sel)
    with (sel / "labels.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    first = rows[len(rows) // 2]
    spare = sorted(set(os.listdir(NIH_SAMPLE / "images")) - set(os.listdir(sel / "images")) - {"00000075_000.png"})
    follow = [
        (sel / "images" / first["filename"], "a", first["labels"]),
        (NIH_SAMPLE / "images" / spare[2], "b", "Effusion|Mass"),
    ]
    with (sel / "labels.csv").open("a", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        for src, tag, labels in follow:
            name = f"{first['patient_id']}-followup-{tag}.png"
            shutil.copy(src, sel / "images" / name)
            w.writerow([name, labels, labels.split("|")[0], first["patient_id"], first["age"], first["sex"], "AP"])
    build_index(IndexOptions(sel / "images", sel / "labels.csv", full_pack, root / "bundle", precision="int8",
                bundle_format=1, cache_dir=embed_cache))  # fmt: skip
    return root / "bundle"


def test_patients_in_chromium(e2e_bundle_patients: Path, full_pack: Path, serve: Serve, tmp_path: Path) -> None:
    """Patient-aware results and the filters: web/e2e/patients.test.mjs."""
    site = build_site(e2e_bundle_patients, full_pack, tmp_path / "site").out
    _, url = serve(site)
    env = {**os.environ, "E2E_URL": url, "E2E_PYTHON": sys.executable, "E2E_BUNDLE": str(e2e_bundle_patients),
           "E2E_PACK": str(full_pack)}  # fmt: skip
    _run_e2e("patients.test.mjs", env)


@pytest.fixture(scope="module")
def e2e_bundle_v2(
    e2e_bundle: Path, full_pack: Path, embed_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The same selection in bundle format 2, with shards and packs small enough that 40 images make several."""
    root = tmp_path_factory.mktemp("e2e-v2")
    sel = e2e_bundle.parent / "sel"
    out = root / "bundle"
    build_index(IndexOptions(sel / "images", sel / "labels.csv", full_pack, out, precision="int8",
                bundle_format=2, shard_rows=8, thumbs_per_pack=8, cache_dir=embed_cache))  # fmt: skip
    evaluate(out, full_pack, n_boot=50, report=False)
    return out


@pytest.fixture()
def serve_plain() -> Iterator[Serve]:
    """Python's own static server: no COOP/COEP, and it ignores Range (answers 200 with the whole file); stopped
    when the test ends."""
    procs: list[subprocess.Popen] = []

    def start(site: Path) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        args = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return _listening(procs[-1], port, "http.server")

    yield start
    _stop(procs)


def test_v2_site_in_chromium(
    e2e_bundle_v2: Path, full_pack: Path, serve: Serve, serve_plain: Serve, tmp_path: Path
) -> None:
    info = json.loads((e2e_bundle_v2 / "index_info.json").read_text())
    assert info["format_version"] == 2 and info["shard_rows"] == 8
    site = build_site(e2e_bundle_v2, full_pack, tmp_path / "site").out
    _, url = serve(site)
    _, plain_url = serve_plain(site)
    env = {
        **os.environ,
        "E2E_URL": url,
        "E2E_PLAIN_URL": plain_url,
        "E2E_PYTHON": sys.executable,
        "E2E_BUNDLE": str(e2e_bundle_v2),
        "E2E_PACK": str(full_pack),
        "E2E_IMAGE": str(NIH_SAMPLE / "images" / "00000284_000.png"),
    }
    _run_e2e("v2.test.mjs", env)


@pytest.fixture(scope="module")
def e2e_dicom(full_pack: Path, embed_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A DICOM collection (docs/DICOM.md) indexed as a version 2 bundle, and the DICOM query samples."""
    from dicom_samples import write_all, write_collection

    from medmir.data.subset import DicomSettings

    root = tmp_path_factory.mktemp("e2e-dicom")
    write_collection(root / "dicom", 16)
    (root / "salt").write_text("an-e2e-salt-0123456789\n")
    select(root / "dicom", None, root / "sel", dicom=DicomSettings(salt_file=root / "salt"), workers=1)
    # one shard: a page opened from a link answers over every row at once (v2.test.mjs covers partial answers)
    build_index(
        IndexOptions(
            root / "sel" / "images",
            root / "sel" / "labels.csv",
            full_pack,
            root / "bundle",
            precision="int8",
            bundle_format=2,
            cache_dir=embed_cache,
        )
    )
    listed = write_all(root / "samples")
    _python_answers(root / "bundle", full_pack, root / "samples", [s["name"] for s in listed if s["browser"]])
    return root / "bundle", root / "samples"


def _python_answers(bundle: Path, pack: Path, samples: Path, names: list[str]) -> None:
    """samples/python.json: each sample's query embedding and top 10 as `medmir search --image` gives them (its
    --query-embedding and --json are col.query_vector and col.search), from one open of the pack, not two a sample."""
    import medmir

    answers = {}
    with medmir.open(bundle, pack) as col:
        for name in names:
            file = samples / f"{name}.dcm"
            answers[name] = {"embedding": [float(v) for v in col.query_vector(file)],
                             "top": [r.filename for r in col.search(file, 10)]}  # fmt: skip
    (samples / "python.json").write_text(json.dumps(answers), encoding="utf-8")


def test_dicom_site_in_chromium(e2e_dicom: tuple[Path, Path], full_pack: Path, serve: Serve, tmp_path: Path) -> None:
    bundle, samples = e2e_dicom
    site = build_site(bundle, full_pack, tmp_path / "site").out
    _, url = serve(site)
    env = {**os.environ, "E2E_URL": url, "E2E_PYTHON": sys.executable, "E2E_BUNDLE": str(bundle),
           "E2E_PACK": str(full_pack), "E2E_SAMPLES": str(samples)}  # fmt: skip
    if os.environ.get("MEDMIR_SCREENSHOTS"):
        env["E2E_SCREENSHOTS"] = str(ROOT / "docs" / "screenshots")
    _run_e2e("dicom.test.mjs", env)


def test_refine_in_chromium(e2e_bundle: Path, e2e_site: Path, full_pack: Path, serve: Serve) -> None:
    """Refine by example, composed queries, evidence, export, keyboard and axe-core: web/e2e/refine.test.mjs."""
    _, url = serve(e2e_site)
    env = {**os.environ, "E2E_URL": url, "E2E_PYTHON": sys.executable, "E2E_BUNDLE": str(e2e_bundle),
           "E2E_PACK": str(full_pack), "E2E_IMAGE": str(NIH_SAMPLE / "images" / "00000284_000.png")}  # fmt: skip
    if os.environ.get("MEDMIR_SCREENSHOTS"):
        env["E2E_SCREENSHOTS"] = str(ROOT / "docs" / "screenshots")
    _run_e2e("refine.test.mjs", env)
