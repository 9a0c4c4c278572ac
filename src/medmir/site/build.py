"""The site stage: built web app + bundle + the pack's INT8 models -> one static folder (served by site/serve.py).

Layout of SITE: index.html, assets/ and ort/ (the app and onnxruntime-web's WASM, self-hosted), sw.js,
precache.json (the app shell, which the service worker stores at install), data/ (the bundle: index_info.json and
the files it lists; version 1 also images/), model/ (manifest.json, vocab.txt, text.int8.onnx, vision.int8.onnx).
Every URL the app uses is relative, so SITE works from any static host and any sub-path.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from medmir.bundle.files import read_info
from medmir.bundle.format import IMAGES, INFO
from medmir.bundle.site_files import site_files
from medmir.bundle.verify import verify_bundle
from medmir.core.errors import MedmirError
from medmir.core.fsutil import staging_dir
from medmir.model.manifest import LEGACY_INT8, MANIFEST_FILE, is_legacy_int8, names_local_path
from medmir.model.pack import ModelPack
from medmir.site.parts import PART_BYTES, PARTS_FILE, split_large_files
from medmir.site.paths import WEB_DIST
from medmir.site.precompress import write_gzip_siblings

# The service worker precaches the app shell only: the search worker downloads every file of these folders itself,
# checks its sha256 and keeps it in Cache Storage (precaching them too downloaded each one twice on a first visit),
# and thumbnails are cached as they are viewed. onnxruntime-web's runtime (ort/) is asked for by a versioned URL,
# ort/FILE?v=VERSION (VERSION: ort/VERSION, written by the app's build), and precached under that URL.
NOT_PRECACHED = ("data/", "model/", PARTS_FILE)
# except the two small contracts the search worker reads first: a first visit's worker starts before the service
# worker controls the page, so without these an offline visit after one online visit could not start
CONTRACTS = (f"data/{INFO}", f"model/{MANIFEST_FILE}")
RUNTIME_VERSION = "ort/VERSION"


@dataclass(frozen=True)
class SiteReport:
    out: Path
    total_bytes: int
    files: int


def build_site(
    bundle: Path, pack_dir: Path, out: Path, *, app: Path = WEB_DIST, force: bool = False, part_bytes: int = PART_BYTES
) -> SiteReport:
    """`part_bytes`: files larger than this are published in parts (medmir.site.parts)."""
    if not (app / "index.html").is_file():
        raise MedmirError(f"{app}: the web app is not built (run `npm --prefix web ci && npm --prefix web run build`)")
    verify_bundle(bundle)
    info = read_info(bundle)
    pack = ModelPack.open(pack_dir)
    if is_legacy_int8(pack.manifest):
        raise MedmirError(f"{pack_dir}: {LEGACY_INT8}")
    info.check_indexed_with(pack, bundle)
    check_publishable(pack)
    with staging_dir(out, "site", inputs=[bundle, pack_dir, app], force=force) as tmp:
        shutil.copytree(app, tmp, dirs_exist_ok=True)
        data = tmp / "data"
        data.mkdir()
        for name in site_files(bundle, info):
            shutil.copyfile(bundle / name, data / name)
        if info.format_version == 1:
            shutil.copytree(bundle / IMAGES, data / IMAGES)
        model = tmp / "model"
        model.mkdir()
        m = pack.manifest
        for name in (
            MANIFEST_FILE,
            m["tokenizer"]["vocab"],
            m["models"]["text"]["int8"],
            m["models"]["vision"]["int8"],
        ):
            shutil.copyfile(pack.dir / name, model / name)
        split_large_files(tmp, part_bytes)
        write_gzip_siblings(tmp)
        rels = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file() and p.suffix != ".gz")
        shell = precached(tmp, [r for r in rels if not r.startswith(NOT_PRECACHED) or r in CONTRACTS])
        (tmp / "precache.json").write_text(json.dumps({"files": ["./", *shell]}, indent=1) + "\n", encoding="utf-8")
    files = [p for p in out.rglob("*") if p.is_file()]  # after the rename: the output marker counts too
    return SiteReport(out=out, total_bytes=sum(p.stat().st_size for p in files), files=len(files))


def precached(site: Path, shell: list[str]) -> list[str]:
    """The app shell's URLs for the service worker: the runtime's as the search worker asks for them (without
    ort/VERSION, none when the app names no version)."""
    version_file = site / RUNTIME_VERSION
    version = version_file.read_text(encoding="utf-8").strip() if version_file.is_file() else ""
    out = []
    for rel in shell:
        if not rel.startswith("ort/"):
            out.append(rel)
        elif version and rel != RUNTIME_VERSION:
            out.append(f"{rel}?v={urllib.parse.quote(version, safe='')}")
    return out


def check_publishable(pack: ModelPack) -> None:
    """Refuse a pack whose manifest (published byte for byte: the browser checks its sha256) names a local path."""
    source = str(pack.manifest["model"].get("source") or "")
    if names_local_path(source):
        raise MedmirError(
            f"{pack.dir}: its manifest.json records the local path {source!r}, which the site would publish; export "
            "the pack again with this medmir (it records only the folder's name) and index again"
        )
