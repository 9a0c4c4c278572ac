"""Fixed probe inputs for parity figures at export time and for `medmir model check`."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np


def probe_texts() -> list[str]:
    text = resources.files("medmir.resources.probes").joinpath("texts.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def probe_images(size: int, preprocess_cfg: dict[str, Any], n: int = 4, seed: int = 0) -> np.ndarray:
    """Seeded smooth grayscale-like images, normalised as the model expects: float32 [n, 3, size, size]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((n, 1, size // 16, size // 16), dtype=np.float32)
    img = np.repeat(np.repeat(coarse, 16, axis=2), 16, axis=3)
    img = np.clip(img + 0.05 * rng.standard_normal(img.shape, dtype=np.float32), 0.0, 1.0)
    img = np.repeat(img, 3, axis=1)
    mean = np.asarray(preprocess_cfg["mean"], dtype=np.float32)[None, :, None, None]
    std = np.asarray(preprocess_cfg["std"], dtype=np.float32)[None, :, None, None]
    return ((img - mean) / std).astype(np.float32)
