/**
 * The upload size rule (src/lib/image/imageLimits.ts) against the Python pipeline's
 * (medmir.imaging.decode.size_problem), and the header reader against Pillow on real files Pillow writes. Needs the
 * repository's .venv (`make install`).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";

import { afterAll, describe, expect, it } from "vitest";

import { headerSize, MAX_ASPECT, MAX_PIXELS, MAX_SIDE, sizeProblem } from "../src/lib/image/imageLimits";
import { decodeUpload } from "../src/lib/image/upload";
import { resizeBicubic } from "../src/worker/model/preprocess";
import { crc32 } from "./pngDecode";

const ROOT = new URL("../../", import.meta.url);
const PYTHON = new URL(".venv/bin/python", ROOT).pathname;
const LIMITS = JSON.parse(readFileSync(new URL("src/medmir/resources/image_limits.json", ROOT), "utf8")) as {
  max_side: number;
  max_aspect: number;
  browser_max_pixels: number;
};

function python(script: string, ...args: string[]): string {
  return execFileSync(PYTHON, ["-c", script, ...args], { cwd: ROOT.pathname, encoding: "utf8", maxBuffer: 64 << 20 });
}

/** A valid PNG header (and a few zero rows' worth of data) claiming width x height 8-bit gray. */
function png(width: number, height: number): Uint8Array<ArrayBuffer> {
  const chunk = (type: string, body: Uint8Array) => {
    const out = new Uint8Array(12 + body.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, body.length);
    out.set(Buffer.from(type, "latin1"), 4);
    out.set(body, 8);
    dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const idat = deflateSync(new Uint8Array(Math.min(height, 4) * (width + 1)));
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr),
    chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]));
}

describe("one size rule on both sides", () => {
  it("uses the numbers of src/medmir/resources/image_limits.json", () => {
    expect([MAX_SIDE, MAX_ASPECT, MAX_PIXELS]).toEqual([LIMITS.max_side, LIMITS.max_aspect, LIMITS.browser_max_pixels]);
    expect(MAX_PIXELS).toBeLessThanOrEqual(MAX_SIDE * MAX_SIDE); // the browser may only be stricter, on pixels
  });

  it("gives Python's answer, word for word, except the browser's lower pixel cap", () => {
    const sizes: [number, number][] = [[1_000_000, 1], [40_000, 2], [40_000, 1], [4_000, 2], [2, 4_000], [401, 20],
      [400, 20], [20, 400], [20, 401], [1024, 1024], [1, 1], [20, 1], [21, 1], [0, 5], [5, 0], [20_000, 1_000],
      [20_000, 999], [20_001, 20_000], [20_000, 20_000], [6324, 6324], [6325, 6325], [3000, 2000], [12_000, 9_000]];
    const want = JSON.parse(
      python("import json,sys; from medmir.imaging.decode import size_problem as p; " +
        "print(json.dumps([p(w, h) for w, h in json.loads(sys.argv[1])]))", JSON.stringify(sizes)),
    ) as (string | null)[];
    expect(want.filter((x) => x === null).length).toBeGreaterThan(5);
    sizes.forEach(([w, h], i) => {
      const got = sizeProblem(w, h);
      if (want[i] === null && w * h > MAX_PIXELS) expect(got, `${w}x${h}`).toMatch(/^image too large for the browser: /);
      else expect(got, `${w}x${h}`).toBe(want[i]);
    });
  });

  it("refuses the issue's files before decoding, with a message naming them", async () => {
    // node has no createImageBitmap: reaching the decoder would fail differently, so these never decode
    for (const [w, h, msg] of [
      [40_000, 1, "long.png: image too large: 40000x1; each side may be at most 20,000 pixels"],
      [1_000_000, 1, "long.png: image too large: 1000000x1; each side may be at most 20,000 pixels"],
      [4_000, 2, "long.png: image too elongated: 4000x2; the longer side may be at most 20 times the shorter"],
      [8_000, 8_000, "long.png: image too large for the browser: 8000x8000 = 64,000,000 pixels"],
    ] as const) {
      const file = new File([png(w, h)], "long.png", { type: "image/png" });
      expect(file.size).toBeLessThan(2_000);
      await expect(decodeUpload(file)).rejects.toThrow(msg);
    }
    // an acceptable size goes on to the decoder (absent here)
    await expect(decodeUpload(new File([png(1024, 1024)], "ok.png"))).rejects.toThrow(/ok\.png: not an image this browser/);
    await expect(decodeUpload(new File(["not an image"], "notes.png"))).rejects.toThrow(/notes\.png: not an image/);
  });

  it("the model resize refuses what the rule would have refused, before allocating", () => {
    const thin = { width: 40_000, height: 1, data: new Uint8Array(120_000) };
    expect(() => resizeBicubic(thin, 8_960_000, 224)).toThrow(/exceeds 40000000 pixels/);
  });
});

describe("headerSize reads what Pillow wrote", () => {
  const dir = mkdtempSync(join(tmpdir(), "medmir-upload-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Every format the upload reader parses, with EXIF, a 100 kB ICC profile (pushes JPEG's SOF past 64 kB) and
  // alpha (WebP's extended VP8X header); WebP cannot exceed 16383 a side.
  const files = JSON.parse(
    python(`
import json, sys
from pathlib import Path
from PIL import Image
out = Path(sys.argv[1])
exif = Image.Exif()
exif[0x0112] = 6
kinds = [("png", "L", {}), ("jpg", "RGB", {"exif": exif.tobytes(), "icc_profile": b"\\0" * 100_000}), ("gif", "P", {}),
         ("bmp", "RGB", {}), ("webp", "RGB", {"quality": 50}), ("webp", "RGB", {"lossless": True}),
         ("webp", "RGBA", {"quality": 50}), ("webp", "RGB", {"exif": exif.tobytes()}), ("tiff", "L", {})]
rows = []
for i, (ext, mode, kw) in enumerate(kinds):
    for w, h in [(37, 53), (1, 1), (4000, 2), (2, 401), (16383, 3), (20001, 1)]:
        if ext == "webp" and w > 16383:
            continue
        p = out / f"{i}_{w}x{h}.{ext}"
        Image.new(mode, (w, h)).save(p, **kw)
        with Image.open(p) as im:
            rows.append({"file": str(p), "size": list(im.size)})
print(json.dumps(rows))
`, dir),
  ) as { file: string; size: [number, number] }[];

  it.each(files.filter((f) => !f.file.endsWith(".tiff")))("$file", ({ file, size }) => {
    expect(headerSize(new Uint8Array(readFileSync(file)))).toEqual({ width: size[0], height: size[1] });
  });

  it("leaves other formats and cut headers to the fallback (null)", () => {
    const tiffs = files.filter((f) => f.file.endsWith(".tiff"));
    expect(tiffs.length).toBeGreaterThan(0);
    for (const f of tiffs) expect(headerSize(new Uint8Array(readFileSync(f.file)))).toBeNull();
    const jpg = new Uint8Array(readFileSync(files.find((f) => f.file.endsWith(".jpg"))!.file));
    expect(headerSize(jpg.subarray(0, 50_000))).toBeNull(); // SOF lies behind the 100 kB ICC profile
    expect(headerSize(png(5, 5).subarray(0, 20))).toBeNull();
    expect(headerSize(new Uint8Array(0))).toBeNull();
  });

  it("takes a GIF frame that overflows the logical screen", () => {
    const gif = new Uint8Array(32);
    gif.set(Buffer.from("GIF89a", "latin1"));
    const dv = new DataView(gif.buffer);
    dv.setUint16(6, 10, true);
    dv.setUint16(8, 10, true); // screen 10 x 10, no global colour table
    gif.set([0x21, 0xfe, 3, 0x61, 0x62, 0x63, 0], 13); // a comment extension
    gif[20] = 0x2c;
    dv.setUint16(21, 5, true); // left 5, top 0, frame 40000 x 1
    dv.setUint16(25, 40_000, true);
    dv.setUint16(27, 1, true);
    expect(headerSize(gif)).toEqual({ width: 40_005, height: 10 });
  });
});
