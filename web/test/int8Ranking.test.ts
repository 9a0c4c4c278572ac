// The int8 ranking of bundle format 2: the SIMD pass with its int16 query, then exact re-scoring, must give the
// exact order (recall 1) on rows with real structure (a narrow cone, as CLIP rows are) and on random rows.
import { describe, expect, it } from "vitest";
import { EXTRA, Int8Ranker } from "../src/worker/rank/int8Ranking";
import { topK } from "../src/worker/rank/ranking";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** n unit rows around a common direction (cone > 0) or uniform (cone 0), quantized as the Python writer does. */
function rows(n: number, dim: number, cone: number, seed: number, simd: boolean): { r: Int8Ranker; x: Float32Array[] } {
  const rand = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const axis = Float32Array.from({ length: dim }, gauss);
  const x = Array.from({ length: n }, () => {
    const v = Float32Array.from({ length: dim }, (_, j) => gauss() + cone * axis[j]!);
    const norm = Math.hypot(...v);
    return v.map((a) => a / norm);
  });
  const center = new Float32Array(dim);
  for (const v of x) v.forEach((a, j) => (center[j]! += a / n));
  const scales = new Float32Array(n);
  const codes = new Int8Array(n * dim);
  x.forEach((v, i) => {
    let peak = 0;
    v.forEach((a, j) => (peak = Math.max(peak, Math.abs(a - center[j]!))));
    scales[i] = peak > 0 ? peak / 127 : 1;
    v.forEach((a, j) => (codes[i * dim + j] = Math.max(-127, Math.min(127, Math.round((a - center[j]!) / scales[i]!)))));
  });
  const r = new Int8Ranker(n, dim, center, simd);
  r.setScales(scales);
  r.addRows(codes.subarray(0, (n >> 1) * dim));
  r.addRows(codes.subarray((n >> 1) * dim));
  return { r, x };
}

describe("int8 ranking", () => {
  it.each([
    [0, true],
    [3, true],
    [3, false],
  ])("equals exact int8 ranking (cone %d, SIMD %s)", (cone, simd) => {
    const { r, x } = rows(3000, 512, cone, 7 + cone, simd);
    expect(r.kernel).toBe(simd ? "wasm-simd-int8" : "js");
    for (let t = 0; t < 20; t++) {
      const q = x[(t * 131) % x.length]!.map((a, j) => a + 0.01 * Math.sin(t + j));
      const exact = new Float64Array(r.count);
      for (let i = 0; i < r.count; i++) exact[i] = r.exact(i, q);
      const want = topK(exact, 10);
      const got = r.rank(q, 10);
      expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
      got.forEach((h, i) => expect(h.score).toBe(want[i]!.score));
    }
  });

  it("ranks only the loaded rows, applies filters and the minimum score", () => {
    const { x } = rows(200, 64, 2, 3, true);
    const r = new Int8Ranker(200, 64, new Float32Array(64));
    r.setScales(new Float32Array(200).fill(1 / 127));
    const codes = new Int8Array(200 * 64);
    x.forEach((v, i) => v.forEach((a, j) => (codes[i * 64 + j] = Math.round(a * 127))));
    r.addRows(codes.subarray(0, 100 * 64));
    expect(r.loaded).toBe(100);
    expect(r.rank(x[150]!, 5).every((h) => h.id < 100)).toBe(true);
    expect(r.vector(150)).toBeNull();
    r.addRows(codes.subarray(100 * 64));
    expect(r.rank(x[150]!, 1)[0]!.id).toBe(150);
    expect(r.rank(x[150]!, 5, (row) => row % 2 === 0).every((h) => h.id % 2 === 0)).toBe(true);
    const top = r.rank(x[150]!, 3)[2]!.score;
    expect(r.rank(x[150]!, 10, undefined, top).length).toBe(3);
    const v = r.vector(150)!;
    expect(v.reduce((s, a, j) => s + a * x[150]![j]!, 0)).toBeGreaterThan(0.99);
  });

  it("keeps enough candidates for the re-rank", () => {
    expect(EXTRA).toBeGreaterThanOrEqual(64);
  });
});
