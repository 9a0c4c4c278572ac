"""The `medmir` command: parses arguments and calls one function per subcommand; no logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from medmir import __version__
from medmir.errors import MedmirError

err = Console(stderr=True, highlight=False)
Handler = Callable[[argparse.Namespace], int]


def _model_export(a: argparse.Namespace) -> int:
    from medmir.model.export import export_pack

    m = export_pack(a.source, a.out, log=lambda s: err.print(f"[dim]medmir[/dim] {s}"), cache_dir=a.cache_dir)
    files = m["files"]
    err.print(
        f"text.int8.onnx {files['text.int8.onnx']['bytes'] / 1e6:.1f} MB, "
        f"vision.int8.onnx {files['vision.int8.onnx']['bytes'] / 1e6:.1f} MB, "
        f"export {m['export']['seconds']} s"
    )
    err.print_json(json.dumps(m["parity"]))
    if m["model"]["random_weights"]:
        err.print("[bold red]random weights: results are meaningless[/bold red]")
    return 0


def _model_init_random(a: argparse.Namespace) -> int:
    from medmir.model.checkpoint import init_random

    info = init_random(a.config, a.out, size=a.size, seed=a.seed)
    err.print(f"wrote {a.out}: {info['parameters']:,} parameters ({a.size}, seed {a.seed})")
    err.print("[bold red]random weights: results are meaningless[/bold red]")
    return 0


def _model_check(a: argparse.Namespace) -> int:
    from medmir.model.pack import check_pack

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
    from medmir.model.manifest import read_manifest
    from medmir.model.pack import ModelPack
    from medmir.model.tokenizer import WordPieceTokenizer

    if a.vocab is not None:
        tok = WordPieceTokenizer.from_vocab_file(a.vocab)
    else:
        read_manifest(a.model)
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medmir", description="Private medical image retrieval with BiomedCLIP.")
    p.add_argument("--version", action="version", version=f"medmir {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model = sub.add_parser("model", help="export, create or check model packs")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    ex = msub.add_parser("export", help="export a checkpoint to a model pack (ONNX FP32 + INT8, vocab, manifest)")
    ex.add_argument(
        "--source",
        required=True,
        help="hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224[@REVISION] or a local folder "
        "laid out like that repository",
    )
    ex.add_argument("--out", required=True, type=Path, help="pack folder to write (replaced atomically)")
    ex.add_argument("--cache-dir", type=Path, default=None, help="Hugging Face download cache")
    ex.set_defaults(fn=_model_export)

    ir = msub.add_parser("init-random", help="write a random-weight checkpoint in the Hugging Face layout")
    ir.add_argument("--config", required=True, type=Path, help="folder with open_clip_config.json and tokenizer files")
    ir.add_argument("--out", required=True, type=Path)
    ir.add_argument("--size", choices=("full", "tiny"), default="full", help="full: real shapes; tiny: fast tests")
    ir.add_argument("--seed", type=int, default=0)
    ir.set_defaults(fn=_model_init_random)

    ck = msub.add_parser("check", help="re-verify a model pack (checksums, IO, norms, FP32 vs INT8)")
    ck.add_argument("pack", type=Path)
    ck.set_defaults(fn=_model_check)

    tk = sub.add_parser("tokenize", help="read one text per line on stdin, print one JSON array of ids per line")
    src = tk.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="model pack folder")
    src.add_argument("--vocab", type=Path, help="a vocab.txt (BiomedCLIP tokenizer settings)")
    tk.set_defaults(fn=_tokenize)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.fn
    try:
        return handler(args)
    except MedmirError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
