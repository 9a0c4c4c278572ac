import { describe, expect, it } from "vitest";
import { createScorer, scoreAll, topK } from "../src/worker/rank/ranking";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** the reference: full sort, higher score first, ties by lower row */
function naive(scores: ArrayLike<number>, k: number, accept?: (i: number) => boolean, min = -Infinity) {
  const rows = Array.from({ length: scores.length }, (_, i) => i).filter((i) => scores[i]! >= min && (!accept || accept(i)));
  rows.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return rows.slice(0, k).map((i) => ({ id: i, score: scores[i]! }));
}

describe("topK", () => {
  it("orders ties by lower row, like the bundle contract", () => {
    const s = [0.5, 0.9, 0.9, 0.1, 0.9, 0.2];
    expect(topK(s, 2).map((h) => h.id)).toEqual([1, 2]);
    expect(topK(s, 4).map((h) => h.id)).toEqual([1, 2, 4, 0]);
    expect(topK(s, 10).map((h) => h.id)).toEqual([1, 2, 4, 0, 5, 3]);
    expect(topK(s, 0)).toEqual([]);
    expect(topK([], 5)).toEqual([]);
  });

  it("equals a full sort on random scores with ties, filters and a threshold", () => {
    const r = rng(7);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(r() * 300);
      const scores = Float64Array.from({ length: n }, () => Math.round(r() * 40) / 40); // many ties
      const k = 1 + Math.floor(r() * 30);
      const mod = 2 + Math.floor(r() * 3);
      const accept = t % 3 === 0 ? (i: number) => i % mod !== 0 : undefined;
      const min = t % 4 === 0 ? r() : -Infinity;
      expect(topK(scores, k, accept, min)).toEqual(naive(scores, k, accept, min));
    }
  });
});

describe("scoreAll", () => {
  it("computes every dot product", () => {
    const r = rng(3);
    const dim = 37;
    const n = 50;
    const emb = Float32Array.from({ length: n * dim }, () => r() - 0.5);
    const q = Float32Array.from({ length: dim }, () => r() - 0.5);
    const got = scoreAll(emb, dim, q);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += emb[i * dim + j]! * q[j]!;
      expect(got[i]).toBeCloseTo(s, 12);
    }
  });
});

describe("createScorer", () => {
  it("the WebAssembly SIMD kernel agrees with the JavaScript loop", () => {
    const r = rng(11);
    const dim = 512;
    const n = 3001;
    const emb = Float32Array.from({ length: n * dim }, () => r() - 0.5);
    const q = Float32Array.from({ length: dim }, () => r() - 0.5);
    const scorer = createScorer(emb, dim);
    expect(scorer.kind).toBe("wasm-simd"); // Node 20 has SIMD: the fast path must really be taken
    const got = scorer.score(q);
    const ref = scoreAll(emb, dim, q);
    for (let i = 0; i < n; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThan(1e-4);
    expect(topK(got, 10).map((h) => h.id)).toEqual(topK(ref, 10).map((h) => h.id));
    expect(Array.from(scorer.rows.subarray(0, 5))).toEqual(Array.from(emb.subarray(0, 5)));
  });
});
