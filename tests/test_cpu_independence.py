"""One INT8 answer on every CPU (docs/QUANTIZATION.md).

The same pack is run by native onnxruntime on this CPU, by native onnxruntime on an emulated AVX2-only CPU without
VNNI (Debian's qemu-user, `qemu-x86_64 -cpu Haswell`; `make test` installs it), and by onnxruntime-web's WASM (the
browser's kernels, CPU-independent). Whatever this machine is, a pack made the old way (int8 weights, U8S8) fails one
of the comparisons: on a VNNI CPU native differs from the emulated AVX2 one, on an AVX2 CPU native differs from WASM.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, PackFactory

from medmir.model.pack import ModelPack

pytestmark = pytest.mark.slow
QEMU = shutil.which("qemu-x86_64")
HELPER = ROOT / "tests" / "cpu_embed.py"
# Native vs emulated AVX2: the integer products are exact on both, text floats are bitwise equal, the vision Conv
# is not (other SGEMM kernels), so a few INT8 roundings differ. WASM vs native: float kernels differ in the last bit
# and INT8 activation rounding grows that to INT8 noise (measured 0.9997-1.0 on this pack).
# U8S8 packs: 0.97 (vision) and 0.994 (text) on the emulated AVX2 CPU.
MIN_COS = {"text native vs avx2": 0.99999, "vision native vs avx2": 0.999, "text web vs native": 0.999,
           "text web vs avx2": 0.999}  # fmt: skip


def _embed(pack: Path, out: Path, emulate: bool) -> dict[str, np.ndarray]:
    if emulate and QEMU is None:
        pytest.fail("qemu-x86_64 missing: `make test` installs Debian's qemu-user (apt-get install -y qemu-user)")
    cmd = [sys.executable, str(HELPER), str(pack), str(out)]
    proc = subprocess.run(([QEMU, "-cpu", "Haswell"] if emulate else []) + cmd, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.sum(a * b, axis=1).min())


def agreement(pack_dir: Path, tmp: Path) -> dict[str, float]:
    native = _embed(pack_dir, tmp / "native.npz", emulate=False)
    avx2 = _embed(pack_dir, tmp / "avx2.npz", emulate=True)
    pack = ModelPack.open(pack_dir, text_runtime="web")
    from cpu_embed import inputs

    web = pack.encode_ids(inputs(pack_dir)[0], "int8")
    return {
        "text native vs avx2": _cos(native["text"], avx2["text"]),
        "vision native vs avx2": _cos(native["vision"], avx2["vision"]),
        "text web vs native": _cos(web, native["text"]),
        "text web vs avx2": _cos(web, avx2["text"]),
    }


def test_int8_pack_agrees_on_every_cpu(tiny_pack: Path, tmp_path: Path) -> None:
    got = agreement(tiny_pack, tmp_path)
    low = {k: v for k, v in got.items() if v < MIN_COS[k]}
    assert not low, f"CPU-dependent INT8 embeddings: {low} (all: {got})"


@pytest.fixture(scope="module")
def legacy_pack(random_pack: PackFactory) -> Path:
    """The tiny checkpoint exported with int8 weights (U8S8): an old pack."""
    return random_pack("tiny", 1, weight_type="int8")


def test_old_int8_packs_are_caught(legacy_pack: Path, tmp_path: Path) -> None:
    got = agreement(legacy_pack, tmp_path)
    assert any(v < MIN_COS[k] for k, v in got.items()), f"the U8S8 pack passed every comparison: {got}"


def test_check_names_old_packs(legacy_pack: Path) -> None:
    from medmir.model.pack import check_pack

    kernels = next(r for r in check_pack(legacy_pack) if r.name == "int8 kernels")
    assert not kernels.ok and "CPU-dependent" in kernels.detail and "export it again" in kernels.detail
