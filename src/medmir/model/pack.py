"""Running a model pack with onnxruntime (no torch): the Python twin of the browser's encoder."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import onnxruntime as ort

from medmir.core.errors import MedmirError
from medmir.core.fsutil import sha256_file
from medmir.core.verified import check_once
from medmir.model.manifest import (
    LEGACY_INT8,
    MANIFEST_FILE,
    PreprocessSpec,
    is_legacy_int8,
    read_manifest,
    spec_from_manifest,
    verify_files,
)
from medmir.model.probes import probe_images, probe_texts
from medmir.model.quantize import integer_weight_types
from medmir.model.tokenizer import WordPieceTokenizer, load_vocab
from medmir.model.webruntime import WebEncoder, resolve_runtime, web_runtime_version

Precision = Literal["fp32", "int8"]
Tower = Literal["text", "vision"]


@dataclass
class ModelPack:
    dir: Path
    manifest: dict[str, Any]
    _sessions: dict[tuple[str, str], ort.InferenceSession] = field(default_factory=dict, repr=False)
    _tokenizer: WordPieceTokenizer | None = field(default=None, repr=False)
    # INT8 text runtime: "web" (the site's onnxruntime-web WASM, bit-identical to the browser on every CPU) or
    # "native" (onnxruntime); see medmir.model.webruntime
    text_runtime: str = "native"
    _web_text: list[WebEncoder] = field(default_factory=list, repr=False)
    _native_text: list[NativeTextEncoder] = field(default_factory=list, repr=False)  # start_text(workers > 1)
    threads: int = 0  # onnxruntime's threads a session (0: one a core); 1 where one process a core runs a session

    @classmethod
    def open(
        cls, pack_dir: Path, *, verify: bool = True, text_runtime: str | None = None, threads: int = 0
    ) -> ModelPack:
        manifest = read_manifest(pack_dir)
        if verify:
            # once until a file changes (medmir.core.verified): hashing a 1 GB pack took most of a one-query search
            listed = [pack_dir / name for name in (MANIFEST_FILE, *manifest["files"]) if Path(name).name == name]
            check_once("pack", pack_dir, [p for p in listed if p.is_file()], lambda: verify_files(pack_dir, manifest))
        if is_legacy_int8(manifest):
            warnings.warn(f"{pack_dir}: {LEGACY_INT8}", stacklevel=2)
        return cls(pack_dir, manifest, text_runtime=resolve_runtime(text_runtime), threads=threads)

    def text_runtime_label(self, precision: Precision = "int8") -> str:
        """What embeds `precision` text queries (only INT8 runs on the web runtime), for files that record results."""
        if precision == "int8" and self.text_runtime == "web":
            return f"onnxruntime-web {web_runtime_version()} (WASM, as the site)"
        return f"onnxruntime {ort.__version__} (native)"

    @property
    def manifest_sha256(self) -> str:
        """The pack's identity: what a bundle indexed with it records as index_info.json model.manifest_sha256."""
        return sha256_file(self.dir / MANIFEST_FILE)

    @property
    def embed_dim(self) -> int:
        return int(self.manifest["model"]["embed_dim"])

    @cached_property
    def preprocess(self) -> PreprocessSpec:
        """The manifest's preprocessing spec, checked once, when first asked for (text-only use never reads it)."""
        return PreprocessSpec.from_manifest(self.manifest["preprocess"])

    @property
    def random_weights(self) -> bool:
        return bool(self.manifest["model"].get("random_weights"))

    @property
    def tokenizer(self) -> WordPieceTokenizer:
        if self._tokenizer is None:
            tok = self.manifest["tokenizer"]
            spec = spec_from_manifest(tok, self.dir / MANIFEST_FILE)
            self._tokenizer = WordPieceTokenizer(load_vocab(self.dir / tok["vocab"]), spec)
        return self._tokenizer

    def close(self) -> None:
        """Ends the browser runtime's Node process, if one was started, and drops the sessions."""
        for enc in self._web_text:
            enc.close()
        self._web_text.clear()
        self._native_text.clear()
        self._sessions.clear()

    def start_text(self, workers: int = 1) -> None:
        """Gets `workers` INT8 text encoders going for a batch of queries, embedded in parallel, one query each at a
        time. Web runtime: Node processes, started without waiting (each creates its session while the caller goes
        on). Native: one single-threaded session each (two of them embed 30% more queries a second than one session
        on two threads here); a single query keeps using the default session."""
        model = self.dir / self.manifest["models"]["text"]["int8"]
        if self.text_runtime == "web":
            while len(self._web_text) < workers:
                self._web_text.append(WebEncoder(model, self.embed_dim, wait=False))
        elif workers > 1:
            while len(self._native_text) < workers:
                self._native_text.append(NativeTextEncoder(model))

    @property
    def text_workers(self) -> int:
        """How many INT8 text encoders `start_text` started for this pack's runtime."""
        return len(self._web_text if self.text_runtime == "web" else self._native_text)

    def session(self, tower: Tower, precision: Precision = "int8") -> ort.InferenceSession:
        key = (tower, precision)
        if key not in self._sessions:
            self._sessions[key] = cpu_session(self.dir / self.manifest["models"][tower][precision], self.threads)
        return self._sessions[key]

    def encode_ids(
        self, rows: Sequence[Sequence[int]], precision: Precision = "int8", runtime: str | None = None
    ) -> np.ndarray:
        """Embed token-id rows, never padded (browser policy).

        FP32: rows of equal length share a batch. INT8: one row per run, because dynamic quantization picks its
        activation scale over the whole batch, so a row's embedding would depend on its batch mates; INT8 runs on
        `runtime` ("web" or "native"; default: the pack's `text_runtime`).
        """
        limit = int(self.manifest["model"]["context_length"])
        too_long = [len(r) for r in rows if not 0 < len(r) <= limit]
        if too_long:
            raise MedmirError(f"token rows must hold 1..{limit} ids, got a row of {too_long[0]}")
        if precision == "int8" and (runtime or self.text_runtime) == "web":
            return self._encode_web(rows)
        if precision == "int8" and len(self._native_text) > 1 and len(rows) > 1:
            return _in_parallel(self._native_text, rows, self.embed_dim)
        out = np.empty((len(rows), self.embed_dim), dtype=np.float32)
        by_len: dict[object, list[int]] = {}
        for i, r in enumerate(rows):
            by_len.setdefault(len(r) if precision == "fp32" else i, []).append(i)
        sess = self.session("text", precision)
        for idx in by_len.values():
            batch = np.array([rows[i] for i in idx], dtype=np.int64)
            out[idx] = sess.run(None, {"input_ids": batch})[0]
        return out

    def _encode_web(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        if not self._web_text:
            self.start_text()
        return _in_parallel(self._web_text, rows, self.embed_dim)

    def encode_text(
        self, texts: Sequence[str], precision: Precision = "int8", runtime: str | None = None
    ) -> np.ndarray:
        return self.encode_ids([self.tokenizer.encode(t) for t in texts], precision, runtime)

    def encode_pixels(self, pixels: np.ndarray, precision: Precision = "int8", batch_size: int = 16) -> np.ndarray:
        """Embed preprocessed images; INT8 runs one image at a time (see `encode_ids`)."""
        sess = self.session("vision", precision)
        if precision == "int8":
            batch_size = 1
        parts = [
            sess.run(None, {"pixel_values": pixels[i : i + batch_size].astype(np.float32)})[0]
            for i in range(0, len(pixels), batch_size)
        ]
        return np.concatenate(parts) if parts else np.empty((0, self.embed_dim), np.float32)


def cpu_session(path: Path, threads: int = 0) -> ort.InferenceSession:
    """An onnxruntime CPU session on `threads` threads (0: one a core), quiet; a model it cannot load is an error
    naming the file."""
    opts = ort.SessionOptions()
    opts.log_severity_level, opts.intra_op_num_threads = 3, threads
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise MedmirError(f"{path}: onnxruntime cannot load it ({exc})") from exc


class TextEncoder(Protocol):
    def encode(self, rows: Sequence[Sequence[int]]) -> np.ndarray: ...


class NativeTextEncoder:
    """An INT8 text session on one thread, embedding one row per run (see `ModelPack.encode_ids`)."""

    def __init__(self, model: Path) -> None:
        self.session = cpu_session(model, threads=1)

    def encode(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        runs = [self.session.run(None, {"input_ids": np.array([r], dtype=np.int64)})[0] for r in rows]
        return np.concatenate(runs).astype(np.float32, copy=False)


def _in_parallel(encoders: Sequence[TextEncoder], rows: Sequence[Sequence[int]], dim: int) -> np.ndarray:
    """Rows shared out among the encoders (interleaved, so each gets similar lengths), results in row order."""
    encs = encoders[: max(1, min(len(encoders), len(rows)))]
    if len(encs) == 1:
        return encs[0].encode(rows)
    parts = [range(len(rows))[i :: len(encs)] for i in range(len(encs))]
    out = np.empty((len(rows), dim), dtype=np.float32)
    with ThreadPoolExecutor(len(encs)) as pool:
        done = pool.map(lambda e, p: e.encode([rows[i] for i in p]), encs, parts)
        for part, vecs in zip(parts, done, strict=True):
            out[list(part)] = vecs
    return out


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


def _io_check(pack: ModelPack, tower: Tower, precision: Precision) -> str:
    spec = pack.manifest["models"][tower]
    sess = pack.session(tower, precision)
    ins, outs = sess.get_inputs(), sess.get_outputs()
    want_in, want_out = spec["input"], spec["output"]
    dtype = {"int64": "tensor(int64)", "float32": "tensor(float)"}
    problems = []
    if [i.name for i in ins] != [want_in["name"]] or ins[0].type != dtype[want_in["dtype"]]:
        problems.append(f"inputs {[(i.name, i.type) for i in ins]} != {want_in['name']} {want_in['dtype']}")
    if [o.name for o in outs] != [want_out["name"]] or outs[0].type != dtype[want_out["dtype"]]:
        problems.append(f"outputs {[(o.name, o.type) for o in outs]} != {want_out['name']} {want_out['dtype']}")
    if len(ins) == 1 and len(ins[0].shape) != len(want_in["shape"]):
        problems.append(f"input rank {len(ins[0].shape)} != {len(want_in['shape'])}")
    for got, want in zip(ins[0].shape if ins else [], want_in["shape"], strict=False):
        if isinstance(want, int) and got != want:
            problems.append(f"input dim {got} != {want}")
    if outs and outs[0].shape[-1] != pack.embed_dim:
        problems.append(f"output width {outs[0].shape[-1]} != embed_dim {pack.embed_dim}")
    if problems:
        raise MedmirError(f"{pack.dir / spec[precision]}: " + "; ".join(problems))
    return f"{want_in['name']} -> {want_out['name']} [batch, {pack.embed_dim}]"


def check_pack(pack_dir: Path, *, min_int8_cosine: float = 0.99) -> list[CheckResult]:
    """Re-verify a pack: checksums, IO names and shapes, unit norms, FP32 vs INT8 agreement."""
    results: list[CheckResult] = []

    def run(name: str, fn) -> Any:
        try:
            detail = fn()
            results.append(CheckResult(name, True, str(detail)))
            return detail
        except MedmirError as exc:
            results.append(CheckResult(name, False, str(exc)))
            return None

    manifest = run("manifest", lambda: read_manifest(pack_dir) and "format and sections present")
    if manifest is None:
        return results
    pack = ModelPack.open(pack_dir, verify=False)
    checksums = run(
        "checksums", lambda: verify_files(pack_dir, pack.manifest) or f"{len(pack.manifest['files'])} files"
    )
    if checksums is None:
        return results
    run("tokenizer", lambda: f"{len(pack.tokenizer.vocab)} tokens, [CLS]={pack.tokenizer.cls_id}")
    for tower in ("text", "vision"):
        for precision in ("fp32", "int8"):
            run(f"{tower} {precision} io", lambda t=tower, p=precision: _io_check(pack, t, p))
    run("int8 kernels", lambda: _kernel_check(pack))
    if any(not r.ok for r in results):
        return results

    texts = probe_texts()
    images = probe_images(pack.manifest["preprocess"]["image_size"], pack.manifest["preprocess"])
    emb = {("text", p): pack.encode_text(texts, p) for p in ("fp32", "int8")} | {
        ("vision", p): pack.encode_pixels(images, p) for p in ("fp32", "int8")
    }

    def norms() -> str:
        worst = max(float(np.abs(np.linalg.norm(e, axis=1) - 1).max()) for e in emb.values())
        if worst > 1e-3:
            raise MedmirError(f"{pack_dir}: embeddings are not unit length (max |norm - 1| = {worst:.2e})")
        return f"max |norm - 1| = {worst:.1e}"

    run("unit norms", norms)
    for tower in ("text", "vision"):

        def agree(t: str = tower) -> str:
            cos = np.sum(emb[(t, "fp32")] * emb[(t, "int8")], axis=1)
            if cos.min() < min_int8_cosine:
                raise MedmirError(
                    f"{pack_dir / pack.manifest['models'][t]['int8']}: INT8 vs FP32 cosine {cos.min():.4f} "
                    f"< {min_int8_cosine}"
                )
            return f"INT8 vs FP32 cosine min {cos.min():.4f}, mean {cos.mean():.4f} (n={cos.size})"

        run(f"{tower} int8 agreement", agree)
    if pack.text_runtime == "web":
        run("text int8 browser vs native", lambda: _runtime_agreement(pack, texts, emb[("text", "int8")]))
    return results


def _kernel_check(pack: ModelPack) -> str:
    """INT8 packs must be U8U8 (uint8 weights): int8 weights give CPU-dependent embeddings (docs/QUANTIZATION.md)."""
    if is_legacy_int8(pack.manifest):
        raise MedmirError(f"{pack.dir}: {LEGACY_INT8}")
    kinds = {t: integer_weight_types(pack.dir / pack.manifest["models"][t]["int8"]) for t in ("text", "vision")}
    bad = [t for t, k in kinds.items() if k != {"uint8"}]
    if bad:
        path = pack.dir / pack.manifest["models"][bad[0]]["int8"]
        found = sorted(kinds[bad[0]]) or "absent"
        raise MedmirError(f"{path}: integer MatMul weights are {found}, not uint8: {LEGACY_INT8}")
    return "uint8 weights (U8U8): the same integer products on every CPU and in WASM"


def _runtime_agreement(pack: ModelPack, texts: Sequence[str], web: np.ndarray) -> str:
    """Informative: the browser's runtime against native onnxruntime on the same INT8 model."""
    native = pack.encode_text(texts, "int8", runtime="native")
    cos = np.sum(web * native, axis=1)
    spread = f"cosine min {cos.min():.4f}, mean {cos.mean():.4f} (n={cos.size})"
    return f"{spread}: INT8 rounding noise, the site's numbers are the web runtime's (docs/QUANTIZATION.md)"
