/**
 * Model preprocessing, bit-identical to the Python index's (`medmir.imaging.decode.preprocess_for_model`).
 *
 * The Python side is torchvision's / open_clip's validation transform run on a Pillow image:
 *   8-bit RGB -> resize shorter side to S with PIL BICUBIC -> centre crop S x S -> /255 -> (x - mean) / std, CHW.
 * The browser must give the same tensor, so it never resizes with a canvas (browsers differ, and none matches
 * Pillow); it decodes to RGBA, drops alpha, and resamples with `resizeBicubic`, a port of Pillow's
 * `libImaging/Resample.c` 8-bit path that reproduces Pillow's uint8 output exactly (checked against Pillow 13 by
 * test/preprocess.test.ts on fixtures from scripts/make_preprocess_fixtures.py).
 *
 * Pillow's algorithm, as reproduced here:
 * - Separable: two 1-D passes with a uint8 intermediate image. A pass whose output size equals its input size is
 *   skipped (the box is always the whole image), so a resize to the same size is a plain copy. Pillow 13 picks
 *   the order (see `verticalFirst`); horizontal-first only computes the source rows the vertical pass reads.
 * - Per axis (`precompute_coeffs`): scale = in / out, filterscale = max(scale, 1) (antialiasing when reducing),
 *   support = 2 * filterscale. Output pixel i has centre c = (i + 0.5) * scale and reads source pixels
 *   [xmin, xmin + n) with xmin = max(trunc(c - support + 0.5), 0), xmax = min(trunc(c + support + 0.5), in);
 *   weight of source x is bicubic((x - c + 0.5) / filterscale) with a = -0.5, normalised to sum 1 (in double).
 * - Weights become fixed point with PRECISION_BITS = 32 - 8 - 2 = 22, rounded half away from zero; each output
 *   starts at 1 << 21, accumulates pixel * weight in integers, and is clipped to 0..255 after >> 22.
 * All of that is exact integer / IEEE double arithmetic, so JavaScript gets the same bits as C.
 */

import { MAX_PIXELS } from "../../lib/image/imageLimits";

/** 8-bit RGB pixels, row-major, 3 bytes per pixel (what Pillow's mode "RGB" holds). */
export interface RGBImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The manifest's `preprocess` block (only the fields the arithmetic needs). */
export interface PreprocessSpec {
  image_size: number;
  mean: number[];
  std: number[];
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;
const BICUBIC_SUPPORT = 2.0;

function checkDims(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image dimensions must be positive integers, got ${width}x${height}`);
  }
}

/** Drop the alpha channel, keeping the colour values as they are (Pillow's `convert("RGB")`: no compositing). */
export function rgbaToRgb(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): RGBImage {
  checkDims(width, height);
  const n = width * height;
  if (rgba.length !== n * 4) {
    throw new RangeError(`RGBA buffer has ${rgba.length} bytes, expected ${n * 4} for ${width}x${height}`);
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
    out[j] = rgba[i]!;
    out[j + 1] = rgba[i + 1]!;
    out[j + 2] = rgba[i + 2]!;
  }
  return { width, height, data: out };
}

/** Pillow's `bicubic_filter` (a = -0.5), written with the same operation order as the C code. */
function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

/** Per-axis resampling table: output i reads `count[i]` source pixels from `start[i]` with weights at i * ksize. */
interface AxisCoeffs {
  ksize: number;
  start: Int32Array;
  count: Int32Array;
  weights: Int32Array;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the box [0, inSize). */
function precomputeCoeffs(inSize: number, outSize: number): AxisCoeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = BICUBIC_SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C casts with (int): truncation toward zero, then clamps.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0.0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0.0 ? k[x]! / ww : k[x]!;
      // (int)(±0.5 + w * (1 << PRECISION_BITS)): round half away from zero via truncation.
      weights[base + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, start, count, weights };
}

/** clip8(ss >> PRECISION_BITS); the sums fit in int32 exactly as in C, so `>>` is Pillow's arithmetic shift. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass over source rows [y0, y0 + rows) into a `outW x rows` image. */
function resampleHorizontal(src: RGBImage, y0: number, rows: number, outW: number, c: AxisCoeffs): Uint8Array {
  const { ksize, start, count, weights } = c;
  const inData = src.data;
  const inStride = src.width * 3;
  const out = new Uint8Array(outW * rows * 3);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + y0) * inStride;
    for (let xx = 0; xx < outW; xx++) {
      const n = count[xx]!;
      const kb = xx * ksize;
      let p = rowBase + start[xx]! * 3;
      let s0 = HALF;
      let s1 = HALF;
      let s2 = HALF;
      for (let x = 0; x < n; x++, p += 3) {
        const w = weights[kb + x]!;
        s0 += inData[p]! * w;
        s1 += inData[p + 1]! * w;
        s2 += inData[p + 2]! * w;
      }
      out[o++] = clip8(s0);
      out[o++] = clip8(s1);
      out[o++] = clip8(s2);
    }
  }
  return out;
}

/** Vertical pass: `width x outH` from `src` (whose row 0 is source row `rowOffset` in the tables). */
function resampleVertical(src: RGBImage, rowOffset: number, outH: number, c: AxisCoeffs): Uint8Array {
  const { ksize, start, count, weights } = c;
  const inData = src.data;
  const stride = src.width * 3;
  const out = new Uint8Array(stride * outH);
  for (let yy = 0; yy < outH; yy++) {
    const n = count[yy]!;
    const kb = yy * ksize;
    const first = (start[yy]! - rowOffset) * stride;
    const outBase = yy * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      let p = first + i;
      for (let y = 0; y < n; y++, p += stride) {
        s += inData[p]! * weights[kb + y]!;
      }
      out[outBase + i] = clip8(s);
    }
  }
  return out;
}

/**
 * Pillow 13's pass order (`ImagingResampleInner`): the vertical pass runs first when the height shrinks and
 * shrinks by more than twice as many pixels as the width does, `inH > outH && inH - outH > (inW - outW) * 2`
 * (so also whenever the width grows while the height shrinks); otherwise the horizontal pass runs first, on the
 * source rows the vertical pass will read. The order matters: the intermediate image is rounded to uint8.
 * Older Pillow releases always ran the horizontal pass first (the change is python-pillow/Pillow#9549); this
 * condition was fitted to Pillow 13.0.0's output, with no exception over ~5,000 random size pairs including the
 * ties `inH - outH == 2 * (inW - outW)`, and tests/test_preprocess_fixtures.py flags any later change.
 */
export function verticalFirst(inW: number, inH: number, outW: number, outH: number): boolean {
  return inH > outH && inH - outH > (inW - outW) * 2;
}

/** `Image.resize((outW, outH), Image.Resampling.BICUBIC)` on an RGB image, with Pillow's exact uint8 output. */
export function resizeBicubic(img: RGBImage, outW: number, outH: number): RGBImage {
  checkDims(img.width, img.height);
  checkDims(outW, outH);
  if (outW * outH > MAX_PIXELS) {
    // Uploads pass lib/image/imageLimits.ts's rule first (model resizes stay below S x 20*S); this stops any other
    // caller from allocating gigabytes (a 40000 x 1 image would resize to 8,960,000 x 224).
    throw new RangeError(`resize to ${outW}x${outH} exceeds ${MAX_PIXELS} pixels: the image breaks the size rule`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`RGB buffer has ${img.data.length} bytes, expected ${img.width * img.height * 3}`);
  }
  const needH = outW !== img.width;
  const needV = outH !== img.height;
  if (!needH && !needV) {
    return { width: outW, height: outH, data: img.data.slice() };
  }
  const horiz = needH ? precomputeCoeffs(img.width, outW) : null;
  const vert = needV ? precomputeCoeffs(img.height, outH) : null;
  if (horiz && vert && verticalFirst(img.width, img.height, outW, outH)) {
    const tmp: RGBImage = { width: img.width, height: outH, data: resampleVertical(img, 0, outH, vert) };
    return { width: outW, height: outH, data: resampleHorizontal(tmp, 0, outH, outW, horiz) };
  }
  let cur: RGBImage = img;
  let rowOffset = 0;
  if (horiz) {
    // Only the source rows the vertical pass reads: [first row of output 0, last row of the last output].
    let y0 = 0;
    let y1 = img.height;
    if (vert) {
      y0 = vert.start[0]!;
      y1 = vert.start[outH - 1]! + vert.count[outH - 1]!;
    }
    cur = { width: outW, height: y1 - y0, data: resampleHorizontal(img, y0, y1 - y0, outW, horiz) };
    rowOffset = y0;
  }
  if (vert) {
    cur = { width: cur.width, height: outH, data: resampleVertical(cur, rowOffset, outH, vert) };
  }
  return cur;
}

/**
 * torchvision's `Resize(size)` target for an int size: the shorter side becomes `size`, the longer
 * `int(size * long / short)` (truncated). Returns [width, height]. Same double arithmetic as Python's
 * int * int / int, so the truncation agrees even where the quotient is within an ulp of an integer.
 */
export function shorterSideSize(w: number, h: number, size: number): [number, number] {
  checkDims(w, h);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (w <= h) return [size, Math.trunc((size * h) / w)];
  return [Math.trunc((size * w) / h), size];
}

/** Python's round() on a float: nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision's centre-crop offset `int(round((dim - size) / 2.0))` (round half to even: 1.5 -> 2, 2.5 -> 2). */
export function cropOffset(dim: number, size: number): number {
  return roundHalfEven((dim - size) / 2.0);
}

/**
 * torchvision `CenterCrop(size)` on an image at least `size` on both sides.
 *
 * torchvision pads smaller images with zeros before cropping; the Python path never needs that (after the
 * shorter-side resize both sides are >= size), so it is not reproduced here and such input throws.
 */
export function centerCrop(img: RGBImage, size: number): RGBImage {
  checkDims(img.width, img.height);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (img.width < size || img.height < size) {
    throw new RangeError(
      `centerCrop: image ${img.width}x${img.height} is smaller than ${size}; unreachable after the shorter-side ` +
        `resize (torchvision's zero padding is deliberately not implemented)`,
    );
  }
  const left = cropOffset(img.width, size);
  const top = cropOffset(img.height, size);
  if (left === 0 && top === 0 && img.width === size && img.height === size) {
    return { width: size, height: size, data: img.data.slice() };
  }
  const out = new Uint8Array(size * size * 3);
  const inStride = img.width * 3;
  const rowBytes = size * 3;
  for (let y = 0; y < size; y++) {
    const s = (y + top) * inStride + left * 3;
    out.set(img.data.subarray(s, s + rowBytes), y * rowBytes);
  }
  return { width: size, height: size, data: out };
}

function checkSpec(spec: PreprocessSpec): void {
  if (!Number.isInteger(spec.image_size) || spec.image_size < 1) {
    throw new RangeError(`preprocess spec: image_size must be a positive integer, got ${spec.image_size}`);
  }
  for (const key of ["mean", "std"] as const) {
    const v = spec[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw new RangeError(`preprocess spec: ${key} must be a list of 3 numbers`);
    }
  }
  if (spec.std.some((x) => x === 0)) throw new RangeError("preprocess spec: std must be non-zero");
}

/**
 * Full model input: float32 CHW [3, S, S], equal to `preprocess_for_model(img, spec)` bit for bit.
 *
 * NumPy computes `(float32(p) / float32(255) - float32(mean)) / float32(std)` with one float32 rounding per
 * operation. A float32 op equals the double op rounded to float32 (double has more than 2 * 24 + 2 bits), so
 * `Math.fround` after each step gives the same bits; the 256 possible values per channel are tabulated once.
 */
export function preprocess(img: RGBImage, spec: PreprocessSpec): Float32Array {
  checkSpec(spec);
  const size = spec.image_size;
  const [w, h] = shorterSideSize(img.width, img.height, size);
  const resized = w === img.width && h === img.height ? img : resizeBicubic(img, w, h);
  const crop = centerCrop(resized, size);
  const lut = new Float32Array(3 * 256);
  const f255 = Math.fround(255);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(spec.mean[c]!);
    const s = Math.fround(spec.std[c]!);
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] = Math.fround(Math.fround(v / f255) - m) / s;
    }
  }
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const d = crop.data;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[i] = lut[d[p]!]!;
    out[plane + i] = lut[256 + d[p + 1]!]!;
    out[2 * plane + i] = lut[512 + d[p + 2]!]!;
  }
  return out;
}
