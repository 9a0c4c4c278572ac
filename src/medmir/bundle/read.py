"""Reading a bundle: index_info first, then the files it vouches for."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmir.bundle.format import EMBEDDINGS, FALLBACK, FORMAT_NAME, FORMAT_VERSION, INFO, METADATA, NEIGHBORS
from medmir.errors import MedmirError


def read_json_file(path: Path) -> Any:
    if not path.is_file():
        raise MedmirError(f"{path}: missing")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MedmirError(f"{path}: not valid JSON ({exc}); truncated or damaged?") from exc


def read_info(bundle: Path) -> dict[str, Any]:
    if bundle.is_file():
        raise MedmirError(f"{bundle}: a file, not a bundle folder (give the folder that holds {INFO})")
    if not bundle.is_dir():
        raise MedmirError(f"{bundle}: bundle folder not found")
    info = read_json_file(bundle / INFO)
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise MedmirError(f"{bundle / INFO}: not a medmir bundle")
    if info.get("format_version") != FORMAT_VERSION:
        raise MedmirError(f"{bundle / INFO}: format_version {info.get('format_version')!r}, expected {FORMAT_VERSION}")
    for key in ("count", "dim", "files", "model"):
        if key not in info:
            raise MedmirError(f"{bundle / INFO}: missing {key!r}")
    return info


@dataclass
class Bundle:
    dir: Path
    info: dict[str, Any]
    metadata: list[dict[str, Any]]
    embeddings: np.ndarray

    @classmethod
    def open(cls, bundle: Path, *, verify: bool = True) -> Bundle:
        """Open a bundle; with `verify`, every check of `medmir verify` runs first."""
        if verify:
            from medmir.bundle.verify import verify_bundle

            verify_bundle(bundle)
        info = read_info(bundle)
        meta = read_json_file(bundle / METADATA)
        n, dim = int(info["count"]), int(info["dim"])
        path = bundle / EMBEDDINGS
        if not path.is_file() or path.stat().st_size != n * dim * 4:
            raise MedmirError(f"{path}: expected {n} x {dim} float32 = {n * dim * 4} bytes")
        emb = np.memmap(path, dtype="<f4", mode="r", shape=(n, dim)) if n else np.zeros((0, dim), np.float32)
        return cls(bundle, info, meta["images"], emb)

    @property
    def count(self) -> int:
        return int(self.info["count"])

    def neighbors(self) -> dict[str, Any]:
        return read_json_file(self.dir / NEIGHBORS)

    def fallback(self) -> dict[str, Any]:
        return read_json_file(self.dir / FALLBACK)
