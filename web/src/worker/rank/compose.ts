// Query vectors made from other vectors, in the browser: words with exclusions, an image plus words, and refinement
// by example (Rocchio). Pure arithmetic (float64 sums, a float32 unit vector out); the worker embeds the parts and
// ranks with the result. Every part is scaled to unit length first, so a weight means the same for each kind.
// The weights are lib/query/composeWeights.ts (the page states them beside the controls).
import { ADD_WORDS_WEIGHT, EXCLUDE_WEIGHT, ROCCHIO } from "../../lib/query/composeWeights";

export type Vector = ArrayLike<number>;

/** v / |v| as float32; throws on a zero vector (a query that cancels out ranks nothing). */
export function normalize(v: Vector): Float32Array {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i]! * v[i]!;
  const n = Math.sqrt(ss);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error("the composed query cancels out (a zero vector): change its parts");
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / n;
  return out;
}

/** normalize(sum of w x unit(v)) over the terms; all vectors of one length. */
export function weightedSum(terms: readonly { v: Vector; w: number }[]): Float32Array {
  if (terms.length === 0) throw new Error("nothing to compose");
  const dim = terms[0]!.v.length;
  const acc = new Float64Array(dim);
  for (const { v, w } of terms) {
    if (v.length !== dim) throw new Error(`vectors of different lengths: ${v.length} and ${dim}`);
    if (w === 0) continue;
    const u = normalize(v);
    for (let i = 0; i < dim; i++) acc[i] = acc[i]! + w * u[i]!;
  }
  return normalize(acc);
}

/** The mean of the unit vectors. */
export function meanUnit(vs: readonly Vector[]): Float64Array {
  const dim = vs[0]?.length ?? 0;
  const acc = new Float64Array(dim);
  for (const v of vs) {
    const u = normalize(v);
    for (let i = 0; i < dim; i++) acc[i] = acc[i]! + u[i]! / vs.length;
  }
  return acc;
}

/** Rocchio: normalize(alpha q + beta mean(pos) - gamma mean(neg)); an empty side adds nothing. */
export function rocchio(q: Vector, pos: readonly Vector[], neg: readonly Vector[], weights = ROCCHIO): Float32Array {
  const dim = q.length;
  const acc = new Float64Array(dim);
  const u = normalize(q);
  for (let i = 0; i < dim; i++) acc[i] = weights.alpha * u[i]!;
  if (pos.length) {
    const m = meanUnit(pos);
    for (let i = 0; i < dim; i++) acc[i] = acc[i]! + weights.beta * m[i]!;
  }
  if (neg.length) {
    const m = meanUnit(neg);
    for (let i = 0; i < dim; i++) acc[i] = acc[i]! - weights.gamma * m[i]!;
  }
  return normalize(acc);
}

/** Words with exclusions: normalize(e(words) - lambda x sum of e(excluded)). */
export function excludeWords(words: Vector, excluded: readonly Vector[], lambda = EXCLUDE_WEIGHT): Float32Array {
  return weightedSum([{ v: words, w: 1 }, ...excluded.map((v) => ({ v, w: -lambda }))]);
}

/** An image (or a collection row) plus words: normalize(e(image) + w x e(words)). */
export function imagePlusWords(image: Vector, words: Vector, w = ADD_WORDS_WEIGHT): Float32Array {
  return weightedSum([
    { v: image, w: 1 },
    { v: words, w },
  ]);
}

/** The parts of a composed query, embedded: the base (text, image or row), the excluded words' embeddings (text
 * base), the added words' (image or row base), and the rows marked relevant and not relevant. */
export interface ComposeParts {
  base: Vector;
  minus?: readonly Vector[];
  plus?: Vector | null;
  pos?: readonly Vector[];
  neg?: readonly Vector[];
}

/** The query vector: exclusions and added words first, then Rocchio with the marks. */
export function composeQuery(p: ComposeParts): Float32Array {
  let q: Float32Array = normalize(p.base);
  if (p.minus?.length) q = excludeWords(q, p.minus);
  if (p.plus) q = imagePlusWords(q, p.plus);
  if (p.pos?.length || p.neg?.length) q = rocchio(q, p.pos ?? [], p.neg ?? []);
  return q;
}
