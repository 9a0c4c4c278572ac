"""`medmir model export | init-random | check` and `medmir tokenize` (a pack's or a vocab's tokenizer on stdin).

Each handler imports its stage itself, so that torch (export, init-random) and onnxruntime (check) load only in the
command that needs them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.markup import escape

from medmir.cli.common import RANDOM_WEIGHTS, Subparsers, add_force, count, err
from medmir.core.errors import MedmirError
from medmir.model.manifest import read_manifest
from medmir.model.tokenizer import WordPieceTokenizer


def _export(a: argparse.Namespace) -> int:
    from medmir.model.export import export_pack  # torch and onnx: this command only

    m = export_pack(
        a.source, a.out, log=lambda s: err.print(f"[dim]medmir[/dim] {s}"), cache_dir=a.cache_dir, force=a.force
    )
    files = m["files"]
    err.print(
        f"text.int8.onnx {files['text.int8.onnx']['bytes'] / 1e6:.1f} MB, "
        f"vision.int8.onnx {files['vision.int8.onnx']['bytes'] / 1e6:.1f} MB, "
        f"export {m['export']['seconds']} s"
    )
    err.print_json(json.dumps(m["parity"]))
    if m["model"]["random_weights"]:
        err.print(RANDOM_WEIGHTS)
    return 0


def _init_random(a: argparse.Namespace) -> int:
    from medmir.model.checkpoint import init_random  # torch: this command only

    info = init_random(a.config, a.out, size=a.size, seed=a.seed, force=a.force)
    err.print(f"wrote {a.out}: {info['parameters']:,} parameters ({a.size}, seed {a.seed})")
    err.print(RANDOM_WEIGHTS)
    return 0


def _check(a: argparse.Namespace) -> int:
    from medmir.model.pack import check_pack  # onnxruntime: only the commands that run a pack

    results = check_pack(a.pack)
    for r in results:
        mark = "[green]ok  [/green]" if r.ok else "[bold red]FAIL[/bold red]"
        err.print(f"{mark} {escape(r.name)}: {escape(r.detail)}", soft_wrap=True)
    bad = [r for r in results if not r.ok]
    if bad:
        err.print(f"[bold red]{a.pack}: {len(bad)} check(s) failed[/bold red]")
        return 1
    return 0


def _tokenize(a: argparse.Namespace) -> int:
    if a.vocab is not None:
        tok = WordPieceTokenizer.from_vocab_file(a.vocab)
    else:
        read_manifest(a.model)
        from medmir.model.pack import ModelPack  # onnxruntime: only the commands that run a pack

        tok = ModelPack.open(a.model, verify=False).tokenizer
    raw = sys.stdin.buffer.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MedmirError(f"stdin: not UTF-8 (byte {exc.start})") from exc
    lines = text.split("\n")  # only \n ends a line: \u2028 and friends belong to the text
    if lines[-1] == "":
        lines.pop()
    for line in lines:
        sys.stdout.write(json.dumps(tok.encode(line.removesuffix("\r"))) + "\n")
    return 0


def register(subparsers: Subparsers) -> None:
    """`medmir model` with its three actions, and `medmir tokenize`."""
    msub = subparsers.add_parser("model", help="export, create or check model packs").add_subparsers(
        dest="model_command", required=True, metavar="ACTION"
    )
    ex = msub.add_parser("export", help="export a checkpoint to a model pack (ONNX FP32 + INT8, vocab, manifest)")
    add_force(ex)
    ex.add_argument(
        "--source",
        required=True,
        help="hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224[@REVISION] or a local folder "
        "laid out like that repository",
    )
    ex.add_argument("--out", required=True, type=Path, help="pack folder to write (replaced atomically)")
    ex.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face download cache")
    ex.set_defaults(fn=_export)

    ir = msub.add_parser("init-random", help="write a random-weight checkpoint in the Hugging Face layout")
    add_force(ir)
    ir.add_argument("--config", required=True, type=Path, help="folder with open_clip_config.json and tokenizer files")
    ir.add_argument("--out", required=True, type=Path)
    ir.add_argument("--size", choices=("full", "tiny"), default="full", help="full: real shapes; tiny: fast tests")
    ir.add_argument("--seed", type=count(0), default=0)
    ir.set_defaults(fn=_init_random)

    ck = msub.add_parser("check", help="re-verify a model pack (checksums, IO, norms, FP32 vs INT8)")
    ck.add_argument("pack", type=Path)
    ck.set_defaults(fn=_check)

    tk = subparsers.add_parser("tokenize", help="read one text per line on stdin, print one JSON array of ids per line")
    src = tk.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="model pack folder")
    src.add_argument("--vocab", type=Path, help="a vocab.txt (BiomedCLIP tokenizer settings)")
    tk.set_defaults(fn=_tokenize)
