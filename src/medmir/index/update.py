"""Changing a bundle: images added (only new ones embedded) and images removed by file name or patient id
(`medmir index --update BUNDLE [--images DIR [--labels CSV]] [--remove LIST]`).

The bundle is written again, whole, by the one bundle writer, from the rows kept and the rows added, in a staging
folder that replaces it in one rename: a removed image leaves no row, vector, thumbnail, neighbour or fallback
result behind (a patient who withdraws consent is gone from every file), and the neighbours and the score bands
(index_info.json `score_bands`, from the new set's own scores) are computed afresh, as `medmir index` computes them.
Kept rows keep their stored vectors (version 2: their int8 rows, dequantized and quantized again with the new set);
`medmir evaluate`'s files are left out (they describe the old set: evaluate again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmir.bundle.read import Bundle
from medmir.bundle.write import BundleWriter
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.core.progress import OnProgress, task_progress
from medmir.data.records import Record
from medmir.index.records import new_images
from medmir.index.run import EmbedOptions, IndexReport, add_embedded, default_shards, onnx_embedder, ray_embedder
from medmir.model.pack import ModelPack


@dataclass
class UpdateReport(IndexReport):
    kept: int = 0
    removed: list[str] = field(default_factory=list)  # file names of the rows removed
    unmatched: list[str] = field(default_factory=list)  # --remove entries that matched no row

    def summary(self) -> str:
        return (
            f"{self.count} images in the bundle: {self.kept} kept, {len(self.removed)} removed, "
            f"{self.count - self.kept} added ({self.embedded} embedded, {self.cached} from cache), "
            f"{len(self.skipped)} skipped, {self.seconds:.1f} s"
        )


def read_removals(path: Path) -> set[str]:
    """A file of file names or patient ids, one a line (blank lines and `#` comments skipped)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise MedmirError(f"{path}: not found") from None
    except UnicodeDecodeError as exc:
        raise MedmirError(f"{path}: not UTF-8 text ({exc})") from None
    out = {s.strip() for s in lines if s.strip() and not s.strip().startswith("#")}
    if not out:
        raise MedmirError(f"{path}: no file names or patient ids in it")
    return out


def _record(meta: dict[str, Any]) -> Record:
    return Record(str(meta["filename"]), tuple(meta["labels"]), str(meta.get("primary_label") or ""),
                  str(meta.get("patient_id") or ""), meta.get("age"), str(meta.get("sex") or ""),
                  str(meta.get("view") or ""), tuple((meta.get("facets") or {}).items()))  # fmt: skip


def update_index(
    bundle_dir: Path,
    pack_dir: Path,
    *,
    images: Path | None = None,
    labels: Path | None = None,
    remove: set[str] | None = None,
    cache_dir: Path | None = None,
    workers: int | None = None,
    batch_size: int | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    shards: Path | None = None,
    force: bool = False,
    on_progress: OnProgress | None = None,
) -> UpdateReport:
    """Adds the images under `images` (labels from `labels`) and removes the rows whose file name or patient id is
    in `remove`; the new images are embedded as the bundle's were (its pack and precision; the local or Ray engine).
    `force`: replace a bundle that another medmir command wrote (medmir.core.outputs), as `medmir index --force`."""
    if images is None and not remove:
        raise MedmirError("--update: give --images to add, --remove to remove, or both")
    t0 = time.perf_counter()
    report = UpdateReport()
    bundle = Bundle.open(bundle_dir)  # every check of `medmir verify` first: nothing is built on a damaged bundle
    pack = ModelPack.open(pack_dir)
    bundle.info.check_indexed_with(pack, bundle_dir, hint="; update a bundle with the pack that indexed it")
    made = bundle.info.image_embeddings
    if images is not None and made.get("backend") != "onnxruntime":
        raise MedmirError(f"{bundle_dir}: indexed with {made.get('backend')}; --update embeds with the pack's ONNX "
                          "model, so added rows would not match: index the whole collection again")  # fmt: skip
    remove = remove or set()
    rows = [bundle.metadata[i] for i in range(bundle.count)]
    removed = [m["filename"] in remove or (m.get("patient_id") or "") in remove for m in rows]
    gone = [i for i, out in enumerate(removed) if out]
    matched = {rows[i]["filename"] for i in gone} | {rows[i].get("patient_id") or "" for i in gone}
    report.removed = [rows[i]["filename"] for i in gone]
    report.unmatched = sorted(remove - matched)
    kept = [i for i, out in enumerate(removed) if not out]
    new = new_images(images, labels, {rows[i]["filename"] for i in kept}, report.skipped) if images else None
    if new is not None and not new.present and not gone:
        raise MedmirError(f"{images}: no image to add ({len(report.skipped)} skipped), and nothing to remove")
    info = bundle.info
    inputs = [pack_dir, *(p for p in (images, labels) if p is not None)]
    with staging_dir(bundle_dir, "index", inputs=inputs, force=force) as tmp:
        writer = BundleWriter(tmp, pack, version=info.format_version, shard_rows=info.rows_per_shard,
                              thumbs_per_pack=info.thumbs_in_pack)  # fmt: skip
        advance = task_progress(on_progress, "rows kept", len(kept))
        for i in kept:
            writer.add(_record(rows[i]), bundle.embedding(i), bundle.thumbnail(i))
            advance(1)
        report.kept = len(kept)
        if new is not None and new.present:
            opts = EmbedOptions(cache_dir, True, batch_size, workers, made["precision"])
            paths = new.paths()
            embedder = (ray_embedder(pack, paths, opts, ray_address, shards or default_shards(cache_dir, bundle_dir,
                        pack)) if engine == "ray" else onnx_embedder(pack, paths, opts))  # fmt: skip
            add_embedded(writer, embedder, new, report, strict=False, on_progress=on_progress)
        if writer.count == 0:
            raise MedmirError(f"{bundle_dir}: removing {len(gone)} rows would leave an empty bundle")
        k = info.neighbors_k
        writer.finish(neighbors=k, image_embeddings={x: v for x, v in made.items() if x != "source"},
                      progress=task_progress(on_progress, "nearest neighbours", writer.count))  # fmt: skip
    report.count = writer.count
    report.seconds = time.perf_counter() - t0
    return report
