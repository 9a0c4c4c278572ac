// Ranking over the bundle's embeddings: dot products, then a partial top-K (no full sort, no per-row copies).
// Order: higher score first, equal scores by lower row -- the bundle contract, shared with `medmir search`.

import { createSimdScorer } from "./simd";

export interface Hit {
  id: number;
  score: number;
}

/** scores[i] = <emb row i, q>; accumulated in float64 so the order matches Python's within rounding. */
export function scoreAll(emb: Float32Array, dim: number, q: Float32Array, out?: Float64Array): Float64Array {
  const n = Math.floor(emb.length / dim);
  const scores = out && out.length === n ? out : new Float64Array(n);
  for (let i = 0, base = 0; i < n; i++, base += dim) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < dim; j += 4) {
      s0 += emb[base + j]! * q[j]!;
      s1 += emb[base + j + 1]! * q[j + 1]!;
      s2 += emb[base + j + 2]! * q[j + 2]!;
      s3 += emb[base + j + 3]! * q[j + 3]!;
    }
    for (; j < dim; j++) s0 += emb[base + j]! * q[j]!;
    scores[i] = s0 + s1 + s2 + s3;
  }
  return scores;
}

/** a ranks before b */
function before(as: number, ai: number, bs: number, bi: number): boolean {
  return as > bs || (as === bs && ai < bi);
}

/**
 * The k best rows, best first, via a size-k heap whose root is the worst kept row: O(N log k).
 * `accept` filters rows (label include/exclude); rows scoring below `minScore` are left out.
 */
export function topK(
  scores: ArrayLike<number>,
  k: number,
  accept?: (row: number) => boolean,
  minScore = -Infinity,
): Hit[] {
  const cap = Math.max(0, Math.min(k, scores.length));
  const hs = new Float64Array(cap);
  const hi = new Int32Array(cap);
  let size = 0;
  const swap = (a: number, b: number): void => {
    const ts = hs[a]!;
    const ti = hi[a]!;
    hs[a] = hs[b]!;
    hi[a] = hi[b]!;
    hs[b] = ts;
    hi[b] = ti;
  };
  const siftDown = (start: number): void => {
    let p = start;
    for (;;) {
      const l = 2 * p + 1;
      const r = l + 1;
      let w = p;
      // the root holds the worst: swap with the child that ranks worse
      if (l < size && before(hs[w]!, hi[w]!, hs[l]!, hi[l]!)) w = l;
      if (r < size && before(hs[w]!, hi[w]!, hs[r]!, hi[r]!)) w = r;
      if (w === p) return;
      swap(p, w);
      p = w;
    }
  };
  if (cap === 0) return [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (s < minScore || (accept && !accept(i))) continue;
    if (size < cap) {
      let c = size++;
      hs[c] = s;
      hi[c] = i;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!before(hs[p]!, hi[p]!, hs[c]!, hi[c]!)) break;
        swap(p, c);
        c = p;
      }
    } else if (before(s, i, hs[0]!, hi[0]!)) {
      hs[0] = s;
      hi[0] = i;
      siftDown(0);
    }
  }
  const out: Hit[] = [];
  for (let j = 0; j < size; j++) out.push({ id: hi[j]!, score: hs[j]! });
  out.sort((a, b) => (before(a.score, a.id, b.score, b.id) ? -1 : before(b.score, b.id, a.score, a.id) ? 1 : 0));
  return out;
}

export interface Scorer {
  kind: "wasm-simd" | "js";
  score: (q: Float32Array) => ArrayLike<number>;
  rows: Float32Array;
}

/** The fastest scorer this runtime offers: WebAssembly SIMD (float32 lanes), else the JavaScript loop above. */
export function createScorer(emb: Float32Array, dim: number): Scorer {
  const simd = createSimdScorer(emb, dim);
  if (simd) return { kind: "wasm-simd", score: simd.score, rows: simd.rows };
  const out = new Float64Array(Math.floor(emb.length / dim));
  return { kind: "js", score: (q) => scoreAll(emb, dim, q, out), rows: emb };
}
