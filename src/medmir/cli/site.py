"""`medmir site` (assemble the static site: web app + bundle + INT8 model files) and `medmir serve` (serve one on
loopback with the headers WASM threads need)."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from rich.markup import escape

from medmir.cli.common import Subparsers, add_force, count, err
from medmir.site.paths import WEB_DIST
from medmir.site.serve import make_server  # no onnxruntime: serving needs only the standard library


def _site(a: argparse.Namespace) -> int:
    from medmir.site.build import build_site  # onnxruntime (the pack's checks): only the commands that need it

    rep = build_site(a.bundle, a.model, a.out, app=a.app, force=a.force)
    err.print(f"site: {escape(str(rep.out))} ({rep.files} files, {rep.total_bytes / 1e6:.1f} MB in all)")
    return 0


def _serve(a: argparse.Namespace) -> int:
    server = make_server(a.site, a.host, a.port)
    host, port = server.server_address[:2]
    if not ipaddress.ip_address(host).is_loopback:  # the bound address: "localhost" resolves to loopback here
        err.print(
            f"[bold red]WARNING[/bold red] --host {escape(a.host)} is not a loopback address: the site becomes "
            f"reachable from the network, to anyone who can reach this machine on port {port}; "
            "--host 127.0.0.1 keeps it on this machine",
            soft_wrap=True,
        )
    err.print(f"serving {escape(str(a.site))} at http://{host}:{port}/ (Ctrl+C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def register(subparsers: Subparsers) -> None:
    """`medmir site` and `medmir serve`."""
    st = subparsers.add_parser("site", help="assemble the static site: web app + bundle + INT8 model files")
    add_force(st)
    st.add_argument("--bundle", required=True, type=Path)
    st.add_argument("--model", required=True, type=Path)
    st.add_argument("--out", required=True, type=Path)
    st.add_argument("--app", type=Path, default=WEB_DIST, help="the built web app (npm --prefix web run build)")
    st.set_defaults(fn=_site)

    sv = subparsers.add_parser("serve", help="serve a site on 127.0.0.1 with COOP/COEP (WASM threads)")
    sv.add_argument("site", type=Path)
    sv.add_argument("--port", type=count(0, 65535), default=8000, help="0: any free port")
    sv.add_argument("--host", default="127.0.0.1", help="other than loopback, the network can reach the site")
    sv.set_defaults(fn=_serve)
