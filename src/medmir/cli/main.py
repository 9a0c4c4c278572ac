"""The `medmir` command: the top-level parser (--version, --text-runtime), one `register` per subcommand module,
dispatch to the handler it sets, and the one place errors become exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from rich.markup import escape

from medmir.cli import build, data, evaluate, index, model, process, search, select, site
from medmir.cli.common import Handler, err
from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.model.webruntime import RUNTIME_ENV, RUNTIMES

# In `medmir --help` order; each module adds its parser(s) and sets `fn`, the handler.
SUBCOMMANDS = (model, data, select, process, index, search, evaluate, site, build)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medmir", description="Private medical image retrieval with BiomedCLIP.")
    p.add_argument("--version", action="version", version=f"medmir {__version__}")
    p.add_argument(
        "--text-runtime",
        choices=RUNTIMES,
        help="what embeds INT8 text queries: 'web' (the site's onnxruntime-web WASM in Node: the browser's numbers on "
        "every CPU), 'native' (onnxruntime), 'auto' (web where Node and web/node_modules are present; the default, "
        f"or ${RUNTIME_ENV})",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.register(sub)
    return p


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """Warnings as one readable line (`warning: ...`), not Python's file:line and source line."""
    err.print(f"[bold yellow]warning:[/bold yellow] {escape(str(message))}", soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.fn
    if args.text_runtime:
        os.environ[RUNTIME_ENV] = args.text_runtime  # read by every ModelPack, in workers too
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return handler(args)
    except MedmirError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
