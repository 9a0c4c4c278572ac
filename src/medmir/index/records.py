"""Which images the index stage embeds: label rows matched to the image files under a folder (`ImageSet`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medmir.bundle.format import thumbnail_name
from medmir.core.errors import MedmirError
from medmir.data.generic import read_labels
from medmir.data.nih import index_images
from medmir.data.records import IMAGE_SUFFIXES, Record, Skipped


@dataclass(frozen=True)
class ImageSet:
    """Images to embed: their label rows (`present`, in bundle order), where each is, and a `medmir process` folder
    of thumbnails to reuse (None: thumbnails are made while decoding)."""

    images: Path
    present: list[Record]
    on_disk: dict[str, Path]
    thumbnails: Path | None = None

    def paths(self) -> list[Path]:
        """The image files of `present`, in its order."""
        return [self.on_disk[r.filename] for r in self.present]

    def thumbnail_file(self, r: Record) -> Path | None:
        """`r`'s thumbnail in the `thumbnails` folder, which must be there (None: no such folder was given)."""
        if self.thumbnails is None:
            return None
        src = self.thumbnails / thumbnail_name(r.filename)
        if not src.is_file():
            raise MedmirError(f"{src}: thumbnail missing (run `medmir process` on {self.images})")
        return src


def match_records(
    images: Path, labels: Path, skipped: Skipped, *, strict: bool
) -> tuple[list[Record], dict[str, Path]]:
    """The label rows whose image is under `images` (others are skipped and reported), and where each image is."""
    records = read_labels(labels, skipped)
    on_disk = index_images(images, IMAGE_SUFFIXES)
    present: list[Record] = []
    for r in records:
        if r.filename in on_disk:
            present.append(r)
        else:
            skipped.add(r.filename, f"not found under {images}")
    if not present:
        raise MedmirError(f"{images}: none of the images listed in {labels} is there")
    stems: dict[str, str] = {}
    for r in present:
        clash = stems.setdefault(thumbnail_name(r.filename), r.filename)
        if clash != r.filename:
            raise MedmirError(f"{labels}: {clash} and {r.filename} would share the thumbnail {thumbnail_name(clash)}")
    if strict and len(skipped):
        what, why = skipped.items[0]
        raise MedmirError(f"{what}: {why}")
    return present, on_disk


def new_images(images: Path, labels: Path | None, known: set[str], skipped: Skipped) -> ImageSet:
    """The images under `images` not in the bundle yet (`known`: its file names), with their label rows (no CSV: no
    labels), for `medmir index --update`."""
    on_disk = index_images(images, IMAGE_SUFFIXES)
    if labels is not None:
        records = [r for r in read_labels(labels, skipped) if r.filename in on_disk]
    else:
        records = [Record(name, ()) for name in sorted(on_disk)]
    present = []
    for r in records:
        if r.filename in known:
            skipped.add(str(on_disk[r.filename]), "already in the bundle (remove it first to replace it)")
        else:
            present.append(r)
    return ImageSet(images, present, on_disk)
