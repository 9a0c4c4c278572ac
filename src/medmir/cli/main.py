"""The `medmir` command: parses arguments and calls one function per subcommand; no logic lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from medmir.bundle.format import DEFAULT_BUNDLE_FORMAT, READABLE_VERSIONS
from medmir.cli.common import progress_bar
from medmir.core._version import __version__
from medmir.core.errors import MedmirError
from medmir.model.webruntime import RUNTIME_ENV, RUNTIMES
from medmir.site.paths import WEB_DIST

err = Console(stderr=True, highlight=False)
Handler = Callable[[argparse.Namespace], int]


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """The argparse type of every whole-number option: a bad value is a usage error naming the option (exit 2),
    never a traceback or a silently empty result (--neighbors 0) deep inside a stage."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if maximum is not None and not minimum <= n <= maximum:
            raise argparse.ArgumentTypeError(f"must be from {minimum} to {maximum}, got {n}")
        if n < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {n}")
        return n

    return parse


def facet_filter(text: str) -> tuple[str, tuple[str, ...]]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,VALUE...], got {text!r}")
    return name.strip(), tuple(v.strip() for v in values.split(",") if v.strip())


def _model_export(a: argparse.Namespace) -> int:
    from medmir.model.export import export_pack

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
        err.print("[bold red]random weights: results are meaningless[/bold red]")
    return 0


def _model_init_random(a: argparse.Namespace) -> int:
    from medmir.model.checkpoint import init_random

    info = init_random(a.config, a.out, size=a.size, seed=a.seed, force=a.force)
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


def _log(s: str) -> None:
    style = "bold red" if s.startswith("WARNING") else "dim"
    err.print(f"[{style}]medmir[/{style}] {escape(s)}", soft_wrap=True)


def _progress_enabled() -> bool:
    return err.is_terminal


def _dicom_settings(a: argparse.Namespace) -> Any:
    from medmir.data.subset import DicomSettings

    return DicomSettings(a.salt_file, a.keep_names, a.all_frames, a.allow_burned_in)


def add_dicom_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("DICOM sources (docs/DICOM.md)")
    g.add_argument("--salt-file", type=Path, default=None,
                   help="the secret salt of the pseudonyms (default: $MEDMIR_SALT, else ~/.config/medmir/dicom-salt, "
                        "made on first use); never written into a bundle")  # fmt: skip
    g.add_argument("--keep-names", action="store_true", help="keep the DICOM file names instead of pseudonyms")
    g.add_argument("--all-frames", action="store_true", help="index every frame of a multi-frame image")
    g.add_argument("--allow-burned-in", action="store_true",
                   help="index images whose BurnedInAnnotation is YES (text in the pixels)")  # fmt: skip


def _select(a: argparse.Namespace) -> int:
    from medmir.data.subset import select

    rep = select(a.source, a.labels, a.out, per_label=a.per_label, seed=a.seed, one_per_patient=a.one_per_patient,
                 force=a.force, dicom=_dicom_settings(a), progress=_progress_enabled(),
                 workers=a.workers)  # fmt: skip
    err.print(escape(rep.summary()), soft_wrap=True)
    _print_skipped(rep.skipped.items)
    return 0


def _print_skipped(items: list[tuple[str, str]], limit: int = 20) -> None:
    for what, why in items[:limit]:
        err.print(f"  skipped {escape(what)}: {escape(why)}", soft_wrap=True)
    if len(items) > limit:
        err.print(f"  ... and {len(items) - limit} more")


def _update(a: argparse.Namespace) -> int:
    from medmir.index.embed.onnx import check_workers
    from medmir.index.update import read_removals, update_index

    if a.out is not None:
        raise MedmirError("--update changes BUNDLE in place: leave out --out")
    removals = read_removals(a.remove) if a.remove else None
    with progress_bar() as bar:
        rep = update_index(a.update, a.model, images=a.images, labels=a.labels, remove=removals, cache_dir=a.cache,
                           workers=check_workers(a.workers), batch_size=a.batch_size, engine=a.engine,
                           ray_address=a.address, shards=a.shards, force=a.force, on_progress=bar)  # fmt: skip
    err.print(escape(rep.summary()))
    for name in rep.unmatched:
        err.print(f"  --remove {escape(name)}: no row has this file name or patient id", soft_wrap=True)
    _print_skipped(rep.skipped.items)
    return 0


def _index(a: argparse.Namespace) -> int:
    from medmir.bundle.write import RANDOM_WARNING
    from medmir.index.embed.onnx import check_workers
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index

    if a.update is not None:
        return _update(a)
    missing = [f"--{n}" for n in ("images", "labels", "out") if getattr(a, n) is None]
    if missing:
        raise MedmirError(f"medmir index needs {', '.join(missing)} (or --update BUNDLE)")
    if a.remove is not None:
        raise MedmirError("--remove goes with --update BUNDLE")
    o = IndexOptions(
        a.images,
        a.labels,
        a.model,
        a.out,
        neighbors=a.neighbors,
        precision=a.precision,
        thumbnails=a.thumbnails,
        cache_dir=a.cache,
        batch_size=a.batch_size,
        workers=check_workers(a.workers),
        strict=a.strict,
        device=a.device,
        torch_dtype=a.dtype,
        preprocess_mode=a.preprocess,
        checkpoint=a.checkpoint,
        force=a.force,
        bundle_format=a.bundle_format,
        engine=a.engine,
        ray_address=a.address,
        shards=a.shards,
    )
    with progress_bar() as bar:
        rep = build_index(o, on_progress=bar)
    err.print(escape(rep.summary()))
    _print_skipped(rep.skipped.items)
    from medmir.bundle.read import read_info

    if read_info(a.out).get("random_weights"):
        err.print(f"[bold red]{RANDOM_WARNING}[/bold red]")
    return 0


def _search(a: argparse.Namespace) -> int:
    """`medmir search`: the Python API (medmir.api) on the command line."""
    from medmir.api import Filters
    from medmir.api import open as open_collection

    if sum(x is not None for x in (a.text, a.image, a.queries)) != 1:
        raise MedmirError("give a query TEXT, --image PATH or --queries FILE (one of them)")
    queries = None
    if a.queries is not None:
        from medmir.cli.search import read_queries

        queries = read_queries(a.queries)  # a bad file is named before the bundle is opened
    col = open_collection(a.bundle, a.model, verify=not a.no_verify, precision=a.precision,
                          allow_other_model=a.allow_other_model, start_text=a.image is None)  # fmt: skip
    with col:
        if a.allow_other_model and not _indexed_with(col):
            err.print(
                f"[bold red]WARNING: {escape(str(a.model))} is not the pack {escape(str(a.bundle))} was indexed with: "
                "queries and images are embedded by different models, so these scores and ranks mean nothing"
                "[/bold red]",
                soft_wrap=True,
            )
        filters = Filters(tuple(a.any_label), tuple(a.all_labels), tuple(a.no_label), dict(a.facet))
        if queries is not None:
            return _search_many(col, queries, a, filters)
        query = a.image if a.image is not None else a.text
        if a.query_embedding:
            vec = col.query_vector(query)
            sys.stdout.write(json.dumps([round(float(v), 7) for v in vec]) + "\n")
            return 0
        results = col.search(query, a.k, filters)
        if a.json:
            sys.stdout.write(json.dumps([r.as_json() for r in results], ensure_ascii=False) + "\n")
            return 0
        from rich.table import Table

        table = Table("rank", "score", "file", "labels", "patient")
        for r in results:
            table.add_row(str(r.rank), f"{r.score:.4f}", escape(r.filename), escape(", ".join(r.labels)),
                          escape(r.patient))  # fmt: skip
        Console(highlight=False).print(table)
        if col.pack.random_weights:
            err.print("[bold red]random weights: results are meaningless[/bold red]")
    return 0


def _indexed_with(col: Any) -> bool:
    from medmir.model.pack import indexed_with

    return bool(indexed_with(col.pack, col.bundle.info))


def _search_many(col: Any, queries: list[str], a: argparse.Namespace, filters: Any) -> int:
    """--queries FILE: one query a line, or a CSV with a `query` column; JSON lines (default) or CSV out."""
    from medmir.cli.search import write_results

    with Progress(*Progress.get_default_columns(), console=err, transient=True) as bar:
        task = bar.add_task("searching", total=len(queries))

        def results() -> Any:
            for q, rs in zip(queries, col.search_many(queries, a.k, filters), strict=True):
                bar.advance(task)
                yield q, rs

        n = write_results(results(), a.out, "csv" if a.csv else "jsonl")
    err.print(f"{n} queries, {n * a.k} results at most" + (f" -> {escape(str(a.out))}" if a.out else ""))
    return 0


def _verify(a: argparse.Namespace) -> int:
    from medmir.bundle.verify import verify_bundle

    for line in verify_bundle(a.bundle, thumbnails=not a.skip_thumbnails):
        err.print(f"[green]ok[/green] {escape(line)}", soft_wrap=True)
    return 0


def _evaluate(a: argparse.Namespace) -> int:
    from medmir.evaluate.run import evaluate

    m = evaluate(
        a.bundle, a.model, a.out, text_model=a.text_model, n_boot=a.bootstrap, seed=a.seed, queries_file=a.queries
    )
    ev = m["evaluated"]
    err.print(f"evaluated {escape(ev['what'])}; {ev['bundle_images']} images, {m['queries']['count']} queries")
    for tier, t in m["tiers"].items():
        f = t["metrics"]
        err.print(
            f"  {tier:9s} Hit@10 {f['hit@10']['value']:.3f} (chance {f['hit@10']['chance']:.3f})  "
            f"mAP@10 {f['map@10']['value']:.3f} (chance {f['map@10']['chance']:.3f})  "
            f"MRR {f['mrr']['value']:.3f} (chance {f['mrr']['chance']:.3f})  "
            f"nDCG@10 {f['ndcg@10']['value']:.3f} (chance {f['ndcg@10']['chance']:.3f})  "
            f"R-prec {f['r_precision']['value']:.3f} (chance {f['r_precision']['chance']:.3f})"
        )
    cbir = m["image_to_image"].get("cbir", {}).get("macro", {})
    if "precision@10" in cbir:
        p10 = cbir["precision@10"]
        err.print(f"  image -> image, Denner et al.'s CBIR protocol: macro P@10 {p10['value']:.3f} "
                  f"(chance {p10['chance']:.3f}; same-patient images excluded)")  # fmt: skip
    if m["queries"]["labels_from_templates"]:
        templated = ", ".join(m["queries"]["labels_from_templates"])
        err.print(f"queried from templates (no curated phrasings): {escape(templated)}")
    if m["queries"]["labels_without_images"]:
        err.print(f"labels without images: {escape(', '.join(m['queries']['labels_without_images']))}")
    err.print(f"wrote metrics.json and hard_cases.json in {escape(str(a.bundle))}")
    if ev["random_weights"]:
        err.print("[bold red]random weights: results are meaningless[/bold red]")
    return 0


def _site(a: argparse.Namespace) -> int:
    from medmir.site.build import build_site

    rep = build_site(a.bundle, a.model, a.out, app=a.app, force=a.force)
    err.print(f"site: {escape(str(rep.out))} ({rep.files} files, {rep.total_bytes / 1e6:.1f} MB in all)")
    return 0


def _serve(a: argparse.Namespace) -> int:
    import ipaddress

    from medmir.site.build import make_server

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


def _build(a: argparse.Namespace) -> int:
    from medmir.build import build, resolve_inputs
    from medmir.index.embed.onnx import check_workers

    data, model = resolve_inputs(a.data, a.model)
    res = build(
        data,
        model,
        a.out,
        labels=a.labels,
        per_label=a.per_label,
        seed=a.seed,
        one_per_patient=a.one_per_patient,
        precision=a.precision,
        model_config=a.model_config,
        workers=check_workers(a.workers),
        app=a.app,
        log=_log,
        force=a.force,
        bundle_format=a.bundle_format,
        dicom=_dicom_settings(a),
    )
    err.print(f"bundle: {escape(str(res.bundle))}\nmodel pack: {escape(str(res.pack))}\nsite: {escape(str(res.site))}")
    return 0


FORCE_HELP = (
    "replace OUT even when it is not empty and not a previous output of this command "
    "(never an input, the current folder, home or /)"
)


def add_bundle_format(parser: argparse.ArgumentParser) -> None:
    """`--bundle-format` of `medmir index` and `medmir build`: version 2 unless told."""
    parser.add_argument(
        "--bundle-format",
        type=int,
        choices=READABLE_VERSIONS,
        default=DEFAULT_BUNDLE_FORMAT,
        help=f"bundle format to write (default {DEFAULT_BUNDLE_FORMAT}): 2 = compact int8 rows in shards, thumbnails "
        "in packs, columnar metadata (any collection size; docs/FORMAT.md); 1 = float32 embeddings.bin, "
        "nearest_neighbors.json and images/ (e.g. for comparison)",
    )


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

    model = sub.add_parser("model", help="export, create or check model packs")
    msub = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")

    ex = msub.add_parser("export", help="export a checkpoint to a model pack (ONNX FP32 + INT8, vocab, manifest)")
    ex.add_argument("--force", action="store_true", help=FORCE_HELP)
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
    ir.add_argument("--force", action="store_true", help=FORCE_HELP)
    ir.add_argument("--config", required=True, type=Path, help="folder with open_clip_config.json and tokenizer files")
    ir.add_argument("--out", required=True, type=Path)
    ir.add_argument("--size", choices=("full", "tiny"), default="full", help="full: real shapes; tiny: fast tests")
    ir.add_argument("--seed", type=count(0), default=0)
    ir.set_defaults(fn=_model_init_random)

    ck = msub.add_parser("check", help="re-verify a model pack (checksums, IO, norms, FP32 vs INT8)")
    ck.add_argument("pack", type=Path)
    ck.set_defaults(fn=_model_check)

    tk = sub.add_parser("tokenize", help="read one text per line on stdin, print one JSON array of ids per line")
    src = tk.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="model pack folder")
    src.add_argument("--vocab", type=Path, help="a vocab.txt (BiomedCLIP tokenizer settings)")
    tk.set_defaults(fn=_tokenize)

    data = sub.add_parser("data", help="fetch source data")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    from medmir.cli import data as download_cli

    download_cli.register(dsub)

    se = sub.add_parser("select", help="balanced subset of NIH ChestX-ray14 (or your folder + CSV)")
    se.add_argument("--force", action="store_true", help=FORCE_HELP)
    se.add_argument("--source", required=True, type=Path, help="folder with the images (flat or nested)")
    se.add_argument("--labels", type=Path, default=None,
                    help="NIH Data_Entry_2017*.csv[.gz] or filename,labels CSV (for DICOM: optional, keyed by "
                         "filename or sop_instance_uid)")  # fmt: skip
    se.add_argument("--out", required=True, type=Path)
    se.add_argument("--per-label", type=count(), default=None, help="up to N images per label (default: all images)")
    se.add_argument("--seed", type=count(0), default=42)
    se.add_argument("--one-per-patient", action="store_true")
    se.add_argument("--workers", type=count(), default=None, help="DICOM decoding processes (default: every core)")
    add_dicom_options(se)
    se.set_defaults(fn=_select)

    from medmir.cli import process as process_cli

    process_cli.register(sub)

    ix = sub.add_parser("index", help="embed images and write a bundle")
    ix.add_argument("--force", action="store_true", help=FORCE_HELP)
    ix.add_argument("--images", type=Path, help="the original images (embeddings come from these)")
    ix.add_argument("--labels", type=Path, help="their labels (with --update: optional, no CSV means no labels)")
    ix.add_argument("--model", required=True, type=Path, help="model pack folder")
    ix.add_argument("--out", type=Path, help="bundle folder (replaced atomically)")
    ix.add_argument(
        "--update",
        type=Path,
        metavar="BUNDLE",
        help="change this bundle instead: add --images (only new ones are embedded), --remove rows",
    )
    ix.add_argument(
        "--remove",
        type=Path,
        metavar="LIST",
        help="--update: a file of file names or patient ids (one a line) whose rows are removed",
    )
    ix.add_argument("--neighbors", type=count(), default=10, help="similar images stored per image")
    ix.add_argument("--precision", choices=("fp32", "int8"), default="fp32", help="vision model used for the index")
    ix.add_argument("--thumbnails", type=Path, default=None, help="`medmir process` output to reuse")
    ix.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "medmir" / "embeddings")
    ix.add_argument("--batch-size", type=count(), default=None, help="default: 16 (onnxruntime), 256 (cuda)")
    ix.add_argument("--device", default="cpu", help="cpu (onnxruntime, the pack's ONNX model) or cuda[:N] (PyTorch)")
    ix.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default="bf16", help="with --device cuda")
    ix.add_argument(
        "--preprocess",
        choices=("exact", "fast"),
        default="exact",
        help="with cuda: exact = the manifest's CPU preprocessing; fast = grayscale decode + resize on the GPU",
    )
    ix.add_argument(
        "--checkpoint", type=Path, default=None, help="with cuda: the checkpoint the pack was exported from"
    )
    ix.add_argument("--workers", type=count(), default=None)
    ix.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: embed with a Ray Data pipeline (pip install medmir[ray]; docs/RAY.md)",
    )
    ix.add_argument(
        "--address",
        default=None,
        help="--engine ray: the Ray cluster to join (default: start a local one with --workers CPUs)",
    )
    ix.add_argument(
        "--shards",
        type=Path,
        default=None,
        help="--engine ray: where embedding shards are kept, to resume from (default: under --cache)",
    )
    ix.add_argument("--strict", action="store_true", help="stop at the first unreadable or missing image")
    add_bundle_format(ix)
    ix.set_defaults(fn=_index)

    sr = sub.add_parser("search", help="rank a bundle for a text or an image (the browser's ranking)")
    sr.add_argument("text", nargs="?", default=None, help="a text query")
    sr.add_argument("--image", type=Path, default=None, help="an image query (PNG, JPEG, DICOM, ...)")
    sr.add_argument(
        "--queries",
        type=Path,
        default=None,
        help="many queries in one run: a text file (one a line), or a CSV with a 'query' column",
    )
    sr.add_argument("--out", type=Path, default=None, help="--queries: write the results here (default: stdout)")
    sr.add_argument("--csv", action="store_true", help="--queries: CSV (query, rank, filename, score, labels, "
                    "patient) instead of JSON lines")  # fmt: skip
    sr.add_argument("--any-label", action="append", default=[], metavar="LABEL", help="only rows with one of these")
    sr.add_argument("--all-labels", action="append", default=[], metavar="LABEL", help="only rows with all of these")
    sr.add_argument("--no-label", action="append", default=[], metavar="LABEL", help="no row with any of these")
    sr.add_argument("--facet", action="append", default=[], type=facet_filter, metavar="NAME=V1,V2",
                    help="only rows whose facet NAME (DICOM: modality, body_part, view, age_band, study_year) is "
                         "one of the values")  # fmt: skip
    sr.add_argument("--bundle", required=True, type=Path, help="the index bundle to search")
    sr.add_argument("--model", required=True, type=Path, help="the model pack the bundle was indexed with")
    sr.add_argument("--k", type=count(), default=10, help="results a query (default: 10)")
    sr.add_argument("--precision", choices=("fp32", "int8"), default="int8", help="query encoder (browser: int8)")
    sr.add_argument("--json", action="store_true",
                    help='print [{"rank", "filename", "score", "labels", "patient", "row", "band"}, ...] (band: '
                         '"close", "similar", "related" or "", from the bundle\'s score_bands)')  # fmt: skip
    sr.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the checks of the bundle and pack (done once anyway until a file changes)",
    )
    sr.add_argument("--query-embedding", action="store_true", help="print the query's embedding instead (JSON)")
    sr.add_argument(
        "--allow-other-model",
        action="store_true",
        help="rank with a pack other than the one the bundle was indexed with (the scores then mean nothing; warns)",
    )
    sr.set_defaults(fn=_search)

    ve = sub.add_parser("verify", help="check a bundle against its contract")
    ve.add_argument("bundle", type=Path)
    ve.add_argument("--skip-thumbnails", action="store_true")
    ve.set_defaults(fn=_verify)

    ev = sub.add_parser("evaluate", help="Recall/mAP/MRR by tier with chance baselines and CIs, hard cases, report")
    ev.add_argument("--bundle", required=True, type=Path)
    ev.add_argument("--model", required=True, type=Path, help="the pack the bundle was indexed with")
    ev.add_argument("--out", type=Path, default=None, help="report folder (default: BUNDLE/report)")
    ev.add_argument("--text-model", choices=("int8", "fp32"), default="int8", help="int8 = what the browser runs")
    ev.add_argument("--bootstrap", type=count(), default=1000, help="bootstrap resamples for the 95%% CIs")
    ev.add_argument("--seed", type=count(0), default=0)
    ev.add_argument(
        "--queries",
        type=Path,
        default=None,
        help="your query set: CSV with text,label columns (or JSON); default: curated NIH queries, and template "
        "queries for labels without them",
    )
    ev.set_defaults(fn=_evaluate)

    st = sub.add_parser("site", help="assemble the static site: web app + bundle + INT8 model files")
    st.add_argument("--force", action="store_true", help=FORCE_HELP)
    st.add_argument("--bundle", required=True, type=Path)
    st.add_argument("--model", required=True, type=Path)
    st.add_argument("--out", required=True, type=Path)
    st.add_argument("--app", type=Path, default=WEB_DIST, help="the built web app (npm --prefix web run build)")
    st.set_defaults(fn=_site)

    sv = sub.add_parser("serve", help="serve a site on 127.0.0.1 with COOP/COEP (WASM threads)")
    sv.add_argument("site", type=Path)
    sv.add_argument("--port", type=count(0, 65535), default=8000, help="0: any free port")
    sv.add_argument("--host", default="127.0.0.1", help="other than loopback, the network can reach the site")
    sv.set_defaults(fn=_serve)

    bu = sub.add_parser("build", help="select -> process -> index -> evaluate -> site in one command")
    bu.add_argument("--force", action="store_true", help=FORCE_HELP)
    bu.add_argument("--data", default=None, help="NIH folder (default: $MEDMIR_DATA)")
    bu.add_argument("--model", default=None, help="model pack or 'random-biomedclip' (default: $MEDMIR_MODEL)")
    bu.add_argument("--out", type=Path, default=Path("build") / "demo")
    bu.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="label CSV (default: the NIH file in --data; for DICOM, labels.csv there if present)",
    )
    bu.add_argument("--per-label", type=count(), default=None,
                    help="up to N images per label (default: 100 for NIH, every image of a DICOM folder)")  # fmt: skip
    bu.add_argument("--seed", type=count(0), default=42)
    bu.add_argument("--one-per-patient", action="store_true")
    bu.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    bu.add_argument(
        "--model-config",
        type=Path,
        default=Path("..") / "shared" / "models" / "biomedclip",
        help="config + vocab for random-biomedclip",
    )
    bu.add_argument("--workers", type=count(), default=None)
    bu.add_argument("--app", type=Path, default=WEB_DIST, help="the built web app")
    add_bundle_format(bu)
    add_dicom_options(bu)
    bu.set_defaults(fn=_build)
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
