"""Embed fixed inputs with a pack's INT8 models on native onnxruntime, one thread; run by test_cpu_independence.py
on this CPU and under an emulated one (qemu-x86_64 -cpu Haswell). Usage: python cpu_embed.py PACK OUT.npz"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

IMAGES = ("00000075_000.png", "00000284_000.png", "00000442_000.png")


def inputs(pack_dir: Path) -> tuple[list[list[int]], np.ndarray]:
    from medmir.imaging.decode import load_image, preprocess_batch
    from medmir.model.pack import ModelPack
    from medmir.model.probes import probe_texts

    pack = ModelPack.open(pack_dir, verify=False, text_runtime="native")
    nih = Path(__file__).resolve().parents[2] / "shared" / "data" / "nih-sample" / "images"
    pixels = preprocess_batch([load_image(nih / n) for n in IMAGES], pack.preprocess)
    return [pack.tokenizer.encode(t) for t in probe_texts()], pixels.astype(np.float32)


def main(pack_dir: Path, out: Path) -> None:
    import onnxruntime as ort

    ids, pixels = inputs(pack_dir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3

    def sess(name: str) -> ort.InferenceSession:
        return ort.InferenceSession(str(pack_dir / name), opts, providers=["CPUExecutionProvider"])

    text, vision = sess("text.int8.onnx"), sess("vision.int8.onnx")
    t = [text.run(None, {"input_ids": np.array([r], dtype=np.int64)})[0][0] for r in ids]
    v = [vision.run(None, {"pixel_values": p[None]})[0][0] for p in pixels]
    np.savez(out, text=np.array(t), vision=np.array(v))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
