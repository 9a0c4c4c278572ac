"""The pipeline of `medmir build`: source images + labels + model pack -> bundle and site.

Stages: select -> process -> index -> evaluate -> site; their progress goes to one `on_progress`, their summaries
to `log`.

Layout under OUT: work/selected (select), work/thumbnails (process), work/cache (embedding cache),
work/random-biomedclip (checkpoint + pack, only for `--model random-biomedclip`), bundle/ and site/ (the results).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from medmir.bundle.format import DEFAULT_BUNDLE_FORMAT, RANDOM_WARNING
from medmir.core.progress import OnProgress

if TYPE_CHECKING:
    from medmir.data.subset import DicomSettings
    from medmir.model.pack import Precision

RANDOM_MODEL = "random-biomedclip"
DEFAULT_CONFIG = Path("..") / "shared" / "models" / "biomedclip"
Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildResult:
    bundle: Path
    pack: Path
    random_weights: bool
    site: Path | None


def random_pack(work: Path, config: Path, log: Log) -> Path:
    """A random-weight BiomedCLIP pack (real shapes), built once under `work` and reused while it checks out."""
    from medmir.model.manifest import reusable

    pack = work / RANDOM_MODEL / "pack"
    if reusable(pack):
        log(f"reusing {pack}")
        return pack
    from medmir.model.checkpoint import init_random  # torch: only when the pack must be made
    from medmir.model.export import export_pack

    ckpt = work / RANDOM_MODEL / "checkpoint"
    if not (ckpt / "open_clip_pytorch_model.bin").exists():
        log(f"writing a random-weight BiomedCLIP checkpoint from {config}")
        init_random(config, ckpt, size="full")
    export_pack(str(ckpt), pack, log=log)
    return pack


def _evaluate(bundle: Path, pack_dir: Path, log: Log) -> None:
    from medmir.evaluate.run import evaluate  # scipy and pandas: only once the bundle is there

    log("evaluate: text -> image and image -> image retrieval, zero-shot AUC")
    m = evaluate(bundle, pack_dir)
    strict = m["tiers"]["strict"]["metrics"]
    log(
        f"strict tier: Hit@10 {strict['hit@10']['value']:.3f} (chance {strict['hit@10']['chance']:.3f}), "
        f"mAP@10 {strict['map@10']['value']:.3f} (chance {strict['map@10']['chance']:.3f}); "
        f"report in {bundle / 'report'}"
    )


def build(
    data: Path,
    model: str,
    out: Path,
    *,
    labels: Path | None = None,
    per_label: int | None = None,
    seed: int = 42,
    one_per_patient: bool = False,
    precision: Precision = "fp32",
    model_config: Path = DEFAULT_CONFIG,
    workers: int | None = None,
    app: Path | None = None,
    log: Log = print,
    force: bool = False,
    bundle_format: int = DEFAULT_BUNDLE_FORMAT,
    dicom: DicomSettings | None = None,
    on_progress: OnProgress | None = None,
) -> BuildResult:
    """`bundle_format`: the bundle format the index stage writes (docs/FORMAT.md): 2 by default, 1 for float32.

    `data` is an NIH folder (then `per_label` defaults to 100) or a folder of DICOM files (every image by default;
    labels from `labels`, else its labels.csv when there is one; docs/DICOM.md). Every stage's progress goes to
    `on_progress` (DICOM decoding, thumbnails, embedding, neighbours)."""
    # The stages (numpy, Pillow, onnxruntime) load when the pipeline runs, not when `medmir` parses its arguments.
    from medmir.data.dicom_source import is_dicom_folder
    from medmir.data.nih import find_label_file
    from medmir.data.subset import select
    from medmir.imaging.thumbnails import process_images
    from medmir.index.options import IndexOptions
    from medmir.index.run import build_index
    from medmir.model.pack import ModelPack

    work = out / "work"
    if model == RANDOM_MODEL:
        log(f"WARNING: {RANDOM_WARNING}")
        pack_dir = random_pack(work, model_config, log)
    else:
        pack_dir = Path(model)
    pack = ModelPack.open(pack_dir)  # fail fast, before any image work
    if not is_dicom_folder(data):  # a DICOM folder's labels are optional (select finds its labels.csv)
        labels = labels or find_label_file(data)
        per_label = 100 if per_label is None else per_label

    log(f"select: {data} with {labels or 'its labels.csv, if any'}")
    sel = select(data, labels, work / "selected", per_label=per_label, seed=seed, one_per_patient=one_per_patient,
                 force=force, dicom=dicom, workers=workers, on_progress=on_progress)  # fmt: skip
    log(sel.summary())
    log("process: thumbnails")
    proc = process_images(work / "selected" / "images", work / "thumbnails", workers=workers, on_progress=on_progress)
    log(proc.summary())
    log(f"index: embedding with {pack_dir} ({precision} vision), bundle format {bundle_format}")
    o = IndexOptions(work / "selected" / "images", work / "selected" / "labels.csv", pack_dir, out / "bundle",
                     precision=precision, thumbnails=work / "thumbnails", cache_dir=work / "cache", workers=workers,
                     bundle_format=bundle_format)  # fmt: skip
    rep = build_index(o, on_progress=on_progress)
    log(rep.summary())
    if any(r.labels for r in sel.selected):
        _evaluate(out / "bundle", pack_dir, log)
    else:
        log("evaluate: skipped, the images carry no labels (give a labels CSV to measure retrieval)")
    site = None
    if app is not None:
        from medmir.site.build import build_site

        rep_site = build_site(out / "bundle", pack_dir, out / "site", app=app, force=force)
        site = rep_site.out
        log(f"site: {site} ({rep_site.total_bytes / 1e6:.1f} MB in all; a visit downloads only what it needs)")
    if pack.random_weights:
        log(f"WARNING: {RANDOM_WARNING}")
    return BuildResult(out / "bundle", pack_dir, pack.random_weights, site)
