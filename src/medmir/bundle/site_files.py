"""Which of a bundle's files a site publishes (in its data/ folder): the bundle's rule, so the site stage names no
bundle file itself."""

from __future__ import annotations

from pathlib import Path

from medmir.bundle.format import DATA_FILES, EVAL_FILES, INFO
from medmir.bundle.info import BundleInfo
from medmir.core.errors import MedmirError


def site_files(bundle: Path, info: BundleInfo) -> list[str]:
    """The bundle's files the site publishes in data/, index_info.json first (version 1: its thumbnails too, in
    images/, which the caller copies). Version 2: exactly what index_info.json lists (shards, packs, metadata,
    fallback results, evaluation files), each a plain file name of the bundle folder."""
    if info.format_version == 1:
        return [INFO, *DATA_FILES, *(f for f in EVAL_FILES if (bundle / f).is_file())]
    names = sorted(info.files)
    for name in names:
        if not isinstance(name, str) or not name or name != Path(name).name or name.startswith(".") or name == INFO:
            raise MedmirError(f"{bundle / INFO}: files lists {name!r}, not a file name of the bundle folder")
    return [INFO, *names]
