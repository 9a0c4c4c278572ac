"""index_info.json, typed: the fields the Python readers use, checked as it is read (contract: docs/FORMAT.md).

`BundleInfo.raw` keeps the whole JSON as written (the writer and `register_files` write bytes, never this object).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medmir.bundle.format import FORMAT_NAME, INFO, READABLE_VERSIONS, SHARD_ROWS, THUMBS_PER_PACK
from medmir.core.errors import MedmirError

if TYPE_CHECKING:  # for the annotation only: reading a bundle needs no onnxruntime
    from medmir.model.pack import ModelPack

REQUIRED = ("count", "dim", "files", "model")


@dataclass(frozen=True)
class BundleInfo:
    """A bundle's index_info.json. Optional fields read as absent (None, or empty) in bundles written without them."""

    raw: Mapping[str, Any]
    format_version: int
    count: int
    dim: int
    dtype: str | None
    files: Mapping[str, Mapping[str, Any]]  # name -> {"bytes", "sha256"}
    model: Mapping[str, Any]  # name, title, source, revision, manifest_sha256, random_weights
    neighbors: Mapping[str, Any]  # k, method, ...
    image_embeddings: Mapping[str, Any]
    score_bands: Mapping[str, Any] | None  # medmir.bundle.bands
    random_weights: bool
    warning: str | None
    images: Mapping[str, Any]  # version 1: the thumbnails' count and digest
    center: Any  # version 2: the mean row, [dim] numbers
    shard_rows: int | None  # version 2
    thumbs_per_pack: int | None  # version 2

    @classmethod
    def from_json(cls, raw: Any, path: Path) -> BundleInfo:
        """`raw`, the JSON read from `path`, once it is a medmir bundle of a version this medmir reads."""
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            raise MedmirError(f"{path}: not a medmir bundle")
        if raw.get("format_version") not in READABLE_VERSIONS:
            raise MedmirError(
                f"{path}: format_version {raw.get('format_version')!r}, this medmir reads {READABLE_VERSIONS}"
            )
        for key in REQUIRED:
            if key not in raw:
                raise MedmirError(f"{path}: missing {key!r}")
        return cls(
            raw=raw,
            format_version=int(raw["format_version"]),
            count=int(raw["count"]),
            dim=int(raw["dim"]),
            dtype=raw.get("dtype"),
            files=raw["files"],
            model=raw["model"] or {},
            neighbors=raw.get("neighbors") or {},
            image_embeddings=raw.get("image_embeddings") or {},
            score_bands=raw.get("score_bands"),
            random_weights=bool(raw.get("random_weights")),
            warning=raw.get("warning"),
            images=raw.get("images") or {},
            center=raw.get("center"),
            shard_rows=None if raw.get("shard_rows") is None else int(raw["shard_rows"]),
            thumbs_per_pack=None if raw.get("thumbs_per_pack") is None else int(raw["thumbs_per_pack"]),
        )

    @property
    def manifest_sha256(self) -> str | None:
        """The sha256 of the manifest of the pack that indexed the bundle."""
        return self.model.get("manifest_sha256")

    @property
    def neighbors_k(self) -> int:
        return int(self.neighbors["k"])

    @property
    def rows_per_shard(self) -> int:
        return SHARD_ROWS if self.shard_rows is None else self.shard_rows

    @property
    def thumbs_in_pack(self) -> int:
        return THUMBS_PER_PACK if self.thumbs_per_pack is None else self.thumbs_per_pack

    def indexed_with(self, pack: ModelPack) -> bool:
        """Whether the bundle was indexed with `pack`."""
        return self.manifest_sha256 == pack.manifest_sha256

    def check_indexed_with(self, pack: ModelPack, bundle_dir: Path, hint: str = "") -> None:
        """Refuse a pack other than the bundle's: its queries land in another embedding space, so scores mean
        nothing."""
        if not self.indexed_with(pack):
            raise MedmirError(
                f"{pack.dir}: not the pack {bundle_dir} was indexed with (its {INFO} names manifest "
                f"{str(self.manifest_sha256)[:12]}..., this pack is {pack.manifest_sha256[:12]}...){hint}"
            )
