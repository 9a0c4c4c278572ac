// Grayscale frames -> 8-bit (docs/DICOM.md step 4): the parameters from the data set, then the pure functions of
// voi.ts. The output depends on the stored value alone, so it is computed once per distinct stored value (a table,
// and the percentiles from a histogram): the same doubles as per pixel, without a float64 copy of the frame.

import type { DataSet, Element } from "dicom-parser";

import {
  lookup,
  percentile,
  percentileWindow,
  rescale,
  toByte,
  voiLut,
  windowFunction,
  type Lut,
  type VoiFunction,
} from "./voi";

export interface GrayRule {
  /** stored value -> v (Modality LUT Sequence, else rescale) */
  modality: (stored: number) => number;
  /** v -> y in [0, 1]; null: percentile windowing over the frame */
  voi: ((v: number) => number) | null;
  invert: boolean;
}

/** A data set's LUT item (its first), or null. `signed`: the first mapped value is SS when the pixels are signed. */
function readLut(ds: DataSet, sequenceTag: string, signed: boolean): Lut | null {
  const item = ds.elements[sequenceTag]?.items?.[0]?.dataSet;
  const desc: Element | undefined = item?.elements.x00283002;
  const data: Element | undefined = item?.elements.x00283006;
  if (!item || !desc || !data) return null;
  const n = item.uint16("x00283002", 0) || 65536;
  // 'US or SS': explicit VR says which; implicit VR follows PixelRepresentation (as pydicom resolves it)
  const ss = desc.vr === "SS" || (desc.vr === undefined && signed);
  const first = (ss ? item.int16("x00283002", 1) : item.uint16("x00283002", 1)) ?? 0;
  const bits = item.uint16("x00283002", 2) ?? 16;
  const count = Math.min(n, data.length >> 1);
  const values = new Float64Array(count);
  const signedData = data.vr === "SS";
  for (let i = 0; i < count; i++) values[i] = (signedData ? item.int16("x00283006", i) : item.uint16("x00283006", i))!;
  return count > 0 ? { data: values, first, bits } : null;
}

/** The first value of a numeric string element (DS, IS), or null when absent or not a number. */
function first(ds: DataSet, tag: string): number | null {
  const v = ds.floatString(tag, 0);
  return v === undefined || Number.isNaN(v) ? null : v;
}

export function grayRule(ds: DataSet, signed: boolean, photometric: string): GrayRule {
  const modalityLut = readLut(ds, "x00283000", signed);
  // dicom.py: `float(ds.get("RescaleSlope") or 1.0)`: absent, empty or 0 mean 1
  const slope = first(ds, "x00281053") || 1;
  const intercept = first(ds, "x00281052") || 0;
  const modality = modalityLut ? (s: number) => lookup(modalityLut, s) : (s: number) => rescale(s, slope, intercept);
  const c = first(ds, "x00281050");
  const w = first(ds, "x00281051");
  let voi: GrayRule["voi"] = null;
  if (c !== null && w !== null && w >= 1) {
    const name = (ds.string("x00281056") ?? "").trim().toUpperCase();
    const fn = windowFunction((name === "LINEAR_EXACT" || name === "SIGMOID" ? name : "LINEAR") as VoiFunction);
    voi = (v) => fn(v, c, w);
  } else {
    const lut = readLut(ds, "x00283010", signed);
    if (lut) voi = (v) => voiLut(lut, v);
  }
  return { modality, voi, invert: photometric === "MONOCHROME1" };
}

// Beyond this many possible stored values (only 32-bit data spans more), work per pixel instead of per value.
const MAX_TABLE = 1 << 22;

/** 8-bit gray of each pixel. */
export function grayBytes(stored: Int32Array | Uint32Array, rule: GrayRule): Uint8Array {
  const n = stored.length;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = stored[i]!;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const finish = (y: number) => toByte(rule.invert ? 1 - y : y);
  const out = new Uint8Array(n);
  if (max - min < MAX_TABLE) {
    const span = max - min + 1;
    const counts = new Uint32Array(span);
    for (let i = 0; i < n; i++) counts[stored[i]! - min]!++;
    const present: number[] = [];
    for (let k = 0; k < span; k++) if (counts[k]) present.push(k);
    const v = new Float64Array(span);
    for (const k of present) v[k] = rule.modality(k + min);
    let voi = rule.voi;
    if (!voi) {
      // the r-th smallest v over all pixels: distinct values sorted by v, walked by their counts
      const order = present.slice().sort((a, b) => v[a]! - v[b]!);
      const upTo = new Float64Array(order.length); // pixels with this value or a smaller one
      let total = 0;
      order.forEach((k, j) => (upTo[j] = total += counts[k]!));
      const kth = (rank: number) => {
        let lo = 0;
        let hi = order.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (upTo[mid]! > rank) hi = mid;
          else lo = mid + 1;
        }
        return v[order[lo]!]!;
      };
      const lo = percentile(kth, n, 0.5);
      const hi = percentile(kth, n, 99.5);
      voi = (x) => percentileWindow(x, lo, hi);
    }
    const table = new Uint8Array(span);
    for (const k of present) table[k] = finish(voi(v[k]!));
    for (let i = 0; i < n; i++) out[i] = table[stored[i]! - min]!;
    return out;
  }
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rule.modality(stored[i]!);
  let voi = rule.voi;
  if (!voi) {
    const sorted = v.slice().sort();
    const lo = percentile((r) => sorted[r]!, n, 0.5);
    const hi = percentile((r) => sorted[r]!, n, 99.5);
    voi = (x) => percentileWindow(x, lo, hi);
  }
  for (let i = 0; i < n; i++) out[i] = finish(voi(v[i]!));
  return out;
}
