"""The browser's INT8 text encoder, run from Python: onnxruntime-web's WASM build in Node (web/scripts/embed.mjs).

Why: INT8 activations are rounded at run time, so the last-bit differences between native onnxruntime's float kernels
and the WASM ones grow, layer by layer, into differences the size of INT8 noise itself (docs/QUANTIZATION.md). WASM
arithmetic is the same on every CPU, so Python queries embedded here equal the site's, bit for bit, on any machine:
`medmir search`, the precomputed fallback results and `medmir evaluate` report exactly what the browser computes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from medmir.core.errors import MedmirError
from medmir.site.paths import WEB_DIR

SCRIPT = WEB_DIR / "scripts" / "embed.mjs"
ORT_WEB = WEB_DIR / "node_modules" / "onnxruntime-web" / "package.json"
RUNTIMES = ("auto", "web", "native")
RUNTIME_ENV = "MEDMIR_TEXT_RUNTIME"


@cache
def web_runtime_version() -> str | None:
    """onnxruntime-web's version when this checkout can run it (Node + web/node_modules), else None."""
    if shutil.which("node") is None or not SCRIPT.is_file() or not ORT_WEB.is_file():
        return None
    return str(json.loads(ORT_WEB.read_text(encoding="utf-8"))["version"])


def resolve_runtime(requested: str | None = None) -> str:
    """'web' or 'native' for INT8 text: the request, else $MEDMIR_TEXT_RUNTIME, else web where it can run."""
    choice = requested or os.environ.get(RUNTIME_ENV) or "auto"
    if choice not in RUNTIMES:
        raise MedmirError(f"text runtime {choice!r}: use one of {', '.join(RUNTIMES)}")
    available = web_runtime_version() is not None
    if choice == "web" and not available:
        raise MedmirError(
            f"the browser's runtime needs Node.js on PATH and {ORT_WEB.parent} (`make install`); "
            "or use the native runtime (--text-runtime native), whose INT8 queries differ from the site's slightly"
        )
    return "web" if choice == "web" or (choice == "auto" and available) else "native"


class WebEncoder:
    """One Node process holding one onnxruntime-web session; inputs are embedded one at a time, as the site does.

    Text: `encode` token-id rows. Vision (`image_size` given): `encode_pixels` preprocessed [n, 3, size, size] arrays.
    With `wait=False` the constructor returns at once and the first input waits for the session (about a second for
    BiomedCLIP's text model), so a caller can do its own start-up meanwhile.
    """

    def __init__(self, model: Path, dim: int, image_size: int = 0, *, wait: bool = True) -> None:
        self.model, self.dim, self.image_size = model, dim, image_size
        self._lock = threading.Lock()
        self._ready = False
        # a file, not a pipe: a chatty stderr cannot block Node; closed with this object
        self._err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        # Node ends at end-of-file on stdin, which comes when this process dies however it dies (kill -9 too): no
        # orphan, as long as only this process holds the pipe's write end (spawned children never inherit it).
        try:
            self._proc = subprocess.Popen(
                # absolute: Node runs in web/, where a path relative to the caller's folder means nothing
                ["node", str(SCRIPT), "--model", str(model.resolve()), "--image-size", str(image_size)],
                cwd=WEB_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True,
            )  # fmt: skip
        except OSError as exc:
            raise MedmirError(f"{model}: cannot start Node for the browser's runtime ({exc})") from exc
        if wait:
            with self._lock:
                self._wait_ready()

    def _wait_ready(self) -> None:
        if not self._ready:
            if self._readline() != "ready":
                self._fail("did not start")
            self._ready = True

    def _readline(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def _fail(self, what: str) -> None:
        self.close()
        self._err.seek(0)
        err = self._err.read().strip()
        raise MedmirError(f"{self.model}: onnxruntime-web {what}: {err or 'no message'}")

    def encode(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        return self._run([json.dumps([int(v) for v in row]) for row in rows])

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        lines = [base64.b64encode(np.ascontiguousarray(p, dtype="<f4").tobytes()).decode("ascii") for p in pixels]
        return self._run(lines)

    def _run(self, lines: Sequence[str]) -> np.ndarray:
        out = np.empty((len(lines), self.dim), dtype=np.float32)
        with self._lock:
            self._wait_ready()
            assert self._proc.stdin is not None
            for i, line in enumerate(lines):
                try:
                    self._proc.stdin.write(line + "\n")
                    self._proc.stdin.flush()
                except BrokenPipeError:
                    self._fail("stopped")
                vec = np.frombuffer(base64.b64decode(self._readline()), dtype="<f4")
                if vec.size != self.dim:
                    self._fail(f"returned {vec.size} values, expected {self.dim}")
                out[i] = vec
        return out

    def close(self) -> None:
        """Ends Node at once: every answer asked for was read (waiting for it to exit on its own took a second)."""
        if self._proc.poll() is None:
            if self._proc.stdin:
                self._proc.stdin.close()
            self._proc.kill()
            self._proc.wait()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None:
            self.close()
        if getattr(self, "_err", None) is not None:
            self._err.close()
