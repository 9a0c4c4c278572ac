"""Why an image is refused: `ImageReadError` (a file that cannot be decoded) and the size rule (`size_problem`).

Apart from decoding so that `decode` (Pillow images) and `dicom` (DICOM files) both raise and check the same things
without importing each other.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from medmir.core.errors import MedmirError

# The size rule, shared with the browser (web/src/lib/image/imageLimits.ts, pinned equal by web/test/upload.test.ts):
# - MAX_SIDE: large radiographs (full-field mammograms, long-leg films) reach ~10k px a side; 20000 leaves headroom.
# - MAX_ASPECT: the longer side at most 20x the shorter. Stitched long-leg / full-spine films are below 1:5. Without
#   it a 1 KB PNG of 1,000,000 x 1 pixels passes a pixel cap, but the model's shorter-side resize (to S) makes it
#   S x S*1,000,000 (150 GB at S = 224); with it that intermediate is at most S x 20*S (3 MB at 224).
_LIMITS = json.loads(resources.files("medmir.resources").joinpath("image_limits.json").read_text(encoding="utf-8"))
MAX_SIDE: int = _LIMITS["max_side"]
MAX_ASPECT: int = _LIMITS["max_aspect"]
MAX_PIXELS = MAX_SIDE * MAX_SIDE  # implied by MAX_SIDE; the browser has a lower pixel cap for its memory
SIDE_RULE = f"each side may be at most {MAX_SIDE:,} pixels"


class ImageReadError(MedmirError):
    """A file that cannot be decoded into an image; `path` and `reason` are kept for reports."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type[ImageReadError], tuple[Path, str]]:
        # The default pickling replays self.args (one message) into a two-argument __init__; worker processes need this.
        return (type(self), (self.path, self.reason))


def size_problem(w: int, h: int) -> str | None:
    """Why a w x h image is refused, or None. The browser's `sizeProblem` gives the same answer and text."""
    if w <= 0 or h <= 0:
        return f"image has no pixels ({w}x{h})"
    if max(w, h) > MAX_SIDE:
        return f"image too large: {w}x{h}; {SIDE_RULE}"
    if max(w, h) > MAX_ASPECT * min(w, h):  # integers: exact, as in the browser
        return f"image too elongated: {w}x{h}; the longer side may be at most {MAX_ASPECT} times the shorter"
    return None
