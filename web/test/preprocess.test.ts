/**
 * web/src/worker/model/preprocess.ts against the Python index's preprocessing (Pillow BICUBIC + medmir.imaging.decode),
 * from fixtures written by scripts/make_preprocess_fixtures.py. Resizes must be byte-identical to Pillow; the model
 * tensor must match `preprocess_for_model` (it is bit-identical in practice; the bar is 1e-6).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

import { afterAll, describe, expect, it } from "vitest";

import {
  centerCrop,
  cropOffset,
  preprocess,
  type PreprocessSpec,
  resizeBicubic,
  type RGBImage,
  rgbaToRgb,
  shorterSideSize,
  verticalFirst,
} from "../src/worker/model/preprocess";
import { crc32, decodePng, pngToRgb } from "./pngDecode";

// ------------------------------------------------------------------------------------------------------------
// fixtures

interface Uint8Entry {
  width: number;
  height: number;
  sha256: string;
  data?: string;
  samples?: [number, number][];
}
interface PipelineEntry {
  spec: PreprocessSpec;
  resized: [number, number];
  crop: [number, number];
  tensor_sha256: string;
  lut: string;
  samples: [number, number][];
  tensor?: string;
}
interface CaseDoc {
  name: string;
  input: { pattern: Pattern; seed: number; width: number; height: number; sha256: string };
  resize: Uint8Entry[];
  pipeline: PipelineEntry[];
}
interface SweepDoc {
  cases: { pattern: Pattern; seed: number; width: number; height: number; out: [number, number]; data: string }[];
}
interface GeometryDoc {
  shorter_side: [number, number, number, number, number][];
  crop_offsets: [number, number, number][];
  crops: { seed: number; width: number; height: number; size: number; offset: [number, number]; data: string }[];
  rgba: { width: number; height: number; rgba: string; rgb: string };
}
interface NihDoc {
  images: {
    file: string;
    width: number;
    height: number;
    rgb_sha256: string;
    resize: Uint8Entry;
    pipeline: PipelineEntry;
  }[];
}
interface PngDoc {
  cases: { mode: string; color_type: number; width: number; height: number; png: string; rgb: string }[];
}
type Pattern = "noise" | "smooth";

const FIXTURES = new URL("./fixtures/preprocess/", import.meta.url);
const NIH_DIR = new URL("../../../shared/data/nih-sample/images/", import.meta.url);
const CASE_FILES = [
  "noise_37x53",
  "noise_1x1",
  "noise_300x260",
  "smooth_260x300",
  "noise_501x223",
  "noise_225x224",
  "noise_224x227",
  "noise_224x229",
  "smooth_1024x1024",
  "noise_777x1031",
  "noise_223x225",
  "noise_300x700",
];

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8")) as T;
}
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, "base64"));
function floats(b64: string): Float32Array {
  const b = bytes(b64);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
function sha256(a: Uint8Array | Float32Array): string {
  return createHash("sha256").update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest("hex");
}

// The generator's synthetic pixels (scripts/make_preprocess_fixtures.py: hash32, synth).
function hash32(i: number, seedTerm: number): number {
  let x = (Math.imul(i, 0x9e3779b1) + seedTerm) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x2c1b3c6d) >>> 0;
  x = (x ^ (x >>> 12)) >>> 0;
  x = Math.imul(x, 0x297a2d39) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}
function synth(pattern: Pattern, seed: number, width: number, height: number): RGBImage {
  const seedTerm = Math.imul(seed, 0x85ebca77) >>> 0;
  const data = new Uint8Array(width * height * 3);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++, i++) {
        const r = hash32(i, seedTerm) >>> 24;
        data[i] =
          pattern === "noise"
            ? r
            : (Math.floor((x * 256) / width) + Math.floor((y * 128) / height) + c * 85 + (r & 7)) & 255;
      }
    }
  }
  return { width, height, data };
}

// ------------------------------------------------------------------------------------------------------------
// comparison helpers; the largest differences seen are reported at the end

const report = { resizeMaxDiff: 0, resizeCases: 0, resizeBytes: 0, tensorMaxDiff: 0, tensorValues: 0, nih: 0 };

function maxByteDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

function expectUint8(got: RGBImage, exp: Uint8Entry, label: string): void {
  expect([got.width, got.height], label).toEqual([exp.width, exp.height]);
  let diff = 0;
  if (exp.data !== undefined) {
    diff = maxByteDiff(got.data, bytes(exp.data));
  }
  for (const [i, v] of exp.samples ?? []) diff = Math.max(diff, Math.abs(got.data[i]! - v));
  report.resizeMaxDiff = Math.max(report.resizeMaxDiff, diff);
  report.resizeCases++;
  report.resizeBytes += got.data.length;
  expect(diff, `${label}: max |diff|`).toBe(0);
  expect(sha256(got.data), `${label}: sha256 of all ${got.data.length} bytes`).toBe(exp.sha256);
}

function noteTensorDiff(got: Float32Array, exp: Float32Array | [number, number][]): number {
  let d = 0;
  if (exp instanceof Float32Array) {
    expect(got.length).toBe(exp.length);
    for (let i = 0; i < exp.length; i++) d = Math.max(d, Math.abs(got[i]! - exp[i]!));
    report.tensorValues += exp.length;
  } else {
    for (const [i, v] of exp) d = Math.max(d, Math.abs(got[i]! - v));
    report.tensorValues += exp.length;
  }
  report.tensorMaxDiff = Math.max(report.tensorMaxDiff, d);
  return d;
}

/** The pipeline's value table, computed the way the generator does: a 256-wide ramp through `preprocess`. */
function tsValueTable(spec: PreprocessSpec): Float32Array {
  const ramp = new Uint8Array(256 * 256 * 3);
  for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) ramp.fill(x, (y * 256 + x) * 3, (y * 256 + x) * 3 + 3);
  const t = preprocess({ width: 256, height: 256, data: ramp }, { ...spec, image_size: 256 });
  const table = new Float32Array(768);
  for (let c = 0; c < 3; c++) table.set(t.subarray(c * 65536, c * 65536 + 256), c * 256);
  return table;
}

function checkPipeline(img: RGBImage, p: PipelineEntry, label: string, expectedResized?: Uint8Array): void {
  const s = p.spec.image_size;
  expect(shorterSideSize(img.width, img.height, s), `${label}: resize target`).toEqual(p.resized);
  expect([cropOffset(p.resized[0], s), cropOffset(p.resized[1], s)], `${label}: crop offsets`).toEqual(p.crop);
  const table = floats(p.lut);
  expect(noteTensorDiff(tsValueTable(p.spec), table), `${label}: value table`).toBe(0);

  const t = preprocess(img, p.spec);
  expect(t).toBeInstanceOf(Float32Array);
  expect(t.length).toBe(3 * s * s);
  expect(noteTensorDiff(t, p.samples), `${label}: sampled values`).toBeLessThanOrEqual(1e-6);
  if (p.tensor !== undefined) {
    expect(noteTensorDiff(t, floats(p.tensor)), `${label}: whole tensor`).toBeLessThanOrEqual(1e-6);
  }
  if (expectedResized) {
    // Whole-tensor reference from Pillow's resized pixels, Python's crop offsets and Python's value table.
    const [rw] = p.resized;
    const [left, top] = p.crop;
    const ref = new Float32Array(3 * s * s);
    for (let y = 0; y < s; y++) {
      for (let x = 0; x < s; x++) {
        const src = ((y + top) * rw + x + left) * 3;
        for (let c = 0; c < 3; c++) ref[c * s * s + y * s + x] = table[c * 256 + expectedResized[src + c]!]!;
      }
    }
    expect(noteTensorDiff(t, ref), `${label}: whole tensor from Pillow's resize`).toBeLessThanOrEqual(1e-6);
  }
  expect(sha256(t), `${label}: tensor sha256 (bit-identical)`).toBe(p.tensor_sha256);
}

afterAll(() => {
  console.log(
    `[preprocess] resize: ${report.resizeCases} resizes, ${report.resizeBytes} bytes, ` +
      `max |diff| ${report.resizeMaxDiff}; ` +
      `tensor: ${report.tensorValues} values compared, max |diff| ${report.tensorMaxDiff}; NIH images: ${report.nih}`,
  );
});

// ------------------------------------------------------------------------------------------------------------

describe("rgbaToRgb", () => {
  const g = load<GeometryDoc>("geometry.json").rgba;

  it("drops alpha exactly like Pillow's convert('RGB') (no compositing)", () => {
    const rgba = bytes(g.rgba);
    const want = bytes(g.rgb);
    expect(rgbaToRgb(rgba, g.width, g.height).data).toEqual(want);
    expect(rgbaToRgb(new Uint8ClampedArray(rgba), g.width, g.height).data).toEqual(want);
    const px = rgbaToRgb(new Uint8Array([10, 20, 30, 0, 40, 50, 60, 128]), 2, 1);
    expect(Array.from(px.data)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("rejects a buffer of the wrong size", () => {
    expect(() => rgbaToRgb(new Uint8Array(15), 2, 2)).toThrow(/expected 16/);
  });
});

describe("shorterSideSize and centre crop", () => {
  const g = load<GeometryDoc>("geometry.json");

  it("gives torchvision's Resize(int) target for every tabulated size", () => {
    for (const [w, h, size, nw, nh] of g.shorter_side) {
      expect(shorterSideSize(w, h, size), `${w}x${h}@${size}`).toEqual([nw, nh]);
    }
  });

  it("uses Python's round-half-even crop offsets", () => {
    // (d - 224) / 2 = 0.5, 1.5, 2.5, 3.5 -> 0, 2, 2, 4
    expect([225, 227, 229, 231].map((d) => cropOffset(d, 224))).toEqual([0, 2, 2, 4]);
    for (const [d, s, off] of g.crop_offsets) expect(cropOffset(d, s), `(${d} - ${s}) / 2`).toBe(off);
  });

  it("crops the same pixels as PIL's crop at those offsets", () => {
    for (const c of g.crops) {
      const out = centerCrop(synth("noise", c.seed, c.width, c.height), c.size);
      expect([out.width, out.height]).toEqual([c.size, c.size]);
      expect(out.data, `${c.width}x${c.height} -> ${c.size}`).toEqual(bytes(c.data));
    }
  });

  it("refuses images smaller than the crop (unreachable after the shorter-side resize)", () => {
    expect(() => centerCrop(synth("noise", 1, 223, 300), 224)).toThrow(/unreachable/);
  });
});

describe("resizeBicubic is byte-identical to Pillow's BICUBIC resize", () => {
  for (const name of CASE_FILES) {
    it(name, () => {
      const doc = load<CaseDoc>(`${name}.json`);
      const { pattern, seed, width, height } = doc.input;
      const img = synth(pattern, seed, width, height);
      expect(sha256(img.data), "synthetic input matches the generator's").toBe(doc.input.sha256);
      for (const r of doc.resize) {
        expectUint8(resizeBicubic(img, r.width, r.height), r, `${name} -> ${r.width}x${r.height}`);
      }
    });
  }

  it("the cases cover both pass orders, the pipeline's own resize included", () => {
    const orders = new Set<string>();
    for (const name of CASE_FILES) {
      const doc = load<CaseDoc>(`${name}.json`);
      const { width: w, height: h } = doc.input;
      doc.resize.forEach((r, k) => {
        if (r.width === w || r.height === h) return;
        orders.add(`${k === 0 ? "pipeline" : "extra"}:${verticalFirst(w, h, r.width, r.height) ? "v" : "h"}`);
      });
    }
    expect([...orders].sort()).toEqual(["extra:h", "extra:v", "pipeline:h", "pipeline:v"]);
  });

  it("on a sweep of small random sizes (every pass order and skipped pass)", () => {
    const doc = load<SweepDoc>("sweep.json");
    let vfirst = 0;
    for (const c of doc.cases) {
      const [ow, oh] = c.out;
      const got = resizeBicubic(synth(c.pattern, c.seed, c.width, c.height), ow, oh);
      const want = bytes(c.data);
      const label = `${c.width}x${c.height} -> ${ow}x${oh}`;
      expectUint8(got, { width: ow, height: oh, sha256: sha256(want), data: c.data }, label);
      if (ow !== c.width && oh !== c.height && verticalFirst(c.width, c.height, ow, oh)) vfirst++;
    }
    expect(vfirst).toBeGreaterThan(5);
  });

  it("returns a copy, not the input buffer, when the size is unchanged", () => {
    const img = synth("noise", 3, 5, 4);
    const out = resizeBicubic(img, 5, 4);
    expect(out.data).toEqual(img.data);
    expect(out.data).not.toBe(img.data);
  });

  it("rejects bad sizes", () => {
    expect(() => resizeBicubic(synth("noise", 3, 5, 4), 0, 4)).toThrow(RangeError);
    expect(() => resizeBicubic({ width: 2, height: 2, data: new Uint8Array(11) }, 4, 4)).toThrow(/expected 12/);
  });
});

describe("preprocess matches medmir.imaging.decode.preprocess_for_model", () => {
  for (const name of CASE_FILES) {
    it(name, () => {
      const doc = load<CaseDoc>(`${name}.json`);
      const { pattern, seed, width, height } = doc.input;
      const img = synth(pattern, seed, width, height);
      const main = doc.resize[0]!;
      doc.pipeline.forEach((p, k) => {
        const whole = p.spec.image_size === 224 && main.data !== undefined ? bytes(main.data) : undefined;
        checkPipeline(img, p, `${name} pipeline ${k} (S=${p.spec.image_size})`, whole);
      });
    });
  }

  it("preprocesses a 1024x1024 image in well under 200 ms", () => {
    const img = synth("noise", 12, 1024, 1024);
    const spec = load<CaseDoc>("noise_37x53.json").pipeline[0]!.spec;
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      preprocess(img, spec);
      times.push(performance.now() - t0);
    }
    const best = Math.min(...times);
    const all = times.map((t) => t.toFixed(1)).join(", ");
    console.log(`[preprocess] 1024x1024 -> 3x224x224: ${all} ms (best ${best.toFixed(1)})`);
    expect(best).toBeLessThan(200);
  });

  it("rejects a bad spec", () => {
    const img = synth("noise", 1, 4, 4);
    expect(() => preprocess(img, { image_size: 0, mean: [0, 0, 0], std: [1, 1, 1] })).toThrow(/image_size/);
    expect(() => preprocess(img, { image_size: 2, mean: [0, 0], std: [1, 1, 1] })).toThrow(/mean/);
    expect(() => preprocess(img, { image_size: 2, mean: [0, 0, 0], std: [1, 0, 1] })).toThrow(/non-zero/);
  });
});

describe("NIH chest X-rays from ../shared, decoded with the test PNG decoder", () => {
  const doc = load<NihDoc>("nih.json");
  const have = existsSync(NIH_DIR);
  for (const e of doc.images) {
    it.skipIf(!have)(e.file, () => {
      const png = decodePng(new Uint8Array(readFileSync(new URL(e.file, NIH_DIR))));
      const img = pngToRgb(png);
      expect([img.width, img.height]).toEqual([e.width, e.height]);
      expect(sha256(img.data), "decoded pixels equal medmir.imaging.decode.load_image's").toBe(e.rgb_sha256);
      expectUint8(resizeBicubic(img, e.resize.width, e.resize.height), e.resize, `${e.file} resize`);
      checkPipeline(img, e.pipeline, `${e.file} pipeline`);
      report.nih++;
    });
  }
});

describe("test PNG decoder", () => {
  const doc = load<PngDoc>("png.json");

  it("decodes colour types 0, 2, 4, 6 with all five filter types like Pillow", () => {
    for (const c of doc.cases) {
      const png = decodePng(bytes(c.png));
      expect([png.width, png.height, png.channels]).toEqual([c.width, c.height, c.mode.length]);
      expect(pngToRgb(png).data, `${c.mode} ${c.width}x${c.height}`).toEqual(bytes(c.rgb));
    }
  });

  /** The first case's PNG with IHDR byte `at` (0-based in the IHDR body) set to `value`, CRC fixed up. */
  function patchedIhdr(at: number, value: number): Uint8Array {
    const b = bytes(doc.cases[0]!.png).slice();
    b[16 + at] = value;
    new DataView(b.buffer).setUint32(29, crc32(b.subarray(12, 29)));
    return b;
  }

  it("rejects what it does not support, with the reason", () => {
    expect(() => decodePng(patchedIhdr(8, 16))).toThrow(/bit depth 16/);
    expect(() => decodePng(patchedIhdr(9, 3))).toThrow(/colour type 3/);
    expect(() => decodePng(patchedIhdr(12, 1))).toThrow(/interlace method 1/);
    expect(() => decodePng(new Uint8Array(20))).toThrow(/signature/);
    const bad = bytes(doc.cases[0]!.png).slice();
    bad[20] = bad[20]! ^ 1;
    expect(() => decodePng(bad)).toThrow(/CRC mismatch in IHDR/);
  });
});
