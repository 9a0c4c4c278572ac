// docs/DICOM.md step 4, as pure functions of one value, in float64 (JS numbers) and in the formulas' operation order,
// so that each result is the same double src/medmir/imaging/dicom.py computes with numpy: the grayscale pixels of both
// sides are equal byte for byte. Each function mirrors one line of dicom.py; keep them in step.

/** A LUT (Modality or VOI LUT Sequence item): LUTDescriptor = [entries (0 = 65536), first mapped value, bits]. */
export interface Lut {
  data: ArrayLike<number>;
  first: number;
  bits: number;
}

/** Modality LUT: `stored * RescaleSlope + RescaleIntercept`. */
export const rescale = (stored: number, slope: number, intercept: number): number => stored * slope + intercept;

/** `LUTData[clamp(floor(v) - first_mapped, 0, n - 1)]` (dicom.py `_apply_lut`). */
export function lookup(lut: Lut, v: number): number {
  const i = Math.min(Math.max(Math.floor(v) - lut.first, 0), lut.data.length - 1);
  return lut.data[i]!;
}

/** VOI LINEAR (PS3.3 C.11.2.1.2.1). Needs w >= 1. */
export function windowLinear(v: number, c: number, w: number): number {
  if (v > c - 0.5 + (w - 1) / 2) return 1;
  if (v <= c - 0.5 - (w - 1) / 2) return 0;
  return (v - (c - 0.5)) / (w - 1) + 0.5;
}

/** VOI LINEAR_EXACT (C.11.2.1.3.2). */
export const windowLinearExact = (v: number, c: number, w: number): number => clamp01((v - c) / w + 0.5);

/** VOI SIGMOID (C.11.2.1.3.1). */
export const windowSigmoid = (v: number, c: number, w: number): number => 1 / (1 + Math.exp((-4 * (v - c)) / w));

export type VoiFunction = "LINEAR" | "LINEAR_EXACT" | "SIGMOID";

export function windowFunction(name: VoiFunction): (v: number, c: number, w: number) => number {
  return name === "LINEAR_EXACT" ? windowLinearExact : name === "SIGMOID" ? windowSigmoid : windowLinear;
}

/** VOI LUT Sequence: the looked-up value over the LUT's full scale. */
export const voiLut = (lut: Lut, v: number): number => lookup(lut, v) / (2 ** lut.bits - 1);

/**
 * The p-th percentile of n values, the r-th smallest of which is `kth(r)`: numpy's default ('linear') method,
 * virtual index (n - 1) * p / 100 and numpy's own two-sided interpolation (`_lerp`), so lo and hi are numpy's
 * doubles exactly.
 */
export function percentile(kth: (rank: number) => number, n: number, p: number): number {
  const index = (n - 1) * (p / 100);
  if (index >= n - 1) return kth(n - 1);
  if (index < 0) return kth(0);
  const below = Math.floor(index);
  const a = kth(below);
  const b = kth(below + 1);
  const t = index - below;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Percentile windowing: `clamp((v - lo) / (hi - lo), 0, 1)`, 0 everywhere when hi == lo. */
export const percentileWindow = (v: number, lo: number, hi: number): number => (hi === lo ? 0 : clamp01((v - lo) / (hi - lo)));

/** y in [0, 1] -> 0..255, rounding half up. */
export const toByte = (y: number): number => Math.floor(y * 255 + 0.5);

export const clamp01 = (y: number): number => (y < 0 ? 0 : y > 1 ? 1 : y);
