// Ranking bundle format 2's centred int8 rows (docs/FORMAT.md: score = scales[i] x (codes[i] . q) + center . q).
// Two passes: a WebAssembly SIMD pass over every loaded row with the query rounded to int16 (i32x4.dot_i16x8_s,
// 16 dimensions per step, a quarter of the float32 bytes to read), then the best candidates scored again exactly
// in float64, so the order and the scores are those of `medmir search` (within float rounding), not the pass's.
// Rows arrive shard by shard (progressive loading): only rows [0, loaded) are ranked.

import { topK, type Hit } from "./ranking";
import { wasmModule } from "./simd";

// score8(codes, q16, scales, out, n, dim): out[i] = f32(sum_j codes[i][j] * q16[j]) * scales[i]
// locals: i, j, row (i32); acc, v (v128)
const BODY = [
  0x02, 0x03, 0x7f, 0x02, 0x7b,
  0x20, 0x00, 0x21, 0x08, // row = codes
  0x41, 0x00, 0x21, 0x06, // i = 0
  0x02, 0x40, 0x03, 0x40, // block, loop (rows)
  0x20, 0x06, 0x20, 0x04, 0x4f, 0x0d, 0x01, // if i >= n: break
  0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x21, 0x09, // acc = 0
  0x41, 0x00, 0x21, 0x07, // j = 0
  0x02, 0x40, 0x03, 0x40, // block, loop (16 dimensions a step)
  0x20, 0x07, 0x20, 0x05, 0x4f, 0x0d, 0x01, // if j >= dim: break
  0x20, 0x08, 0x20, 0x07, 0x6a, 0xfd, 0x00, 0x00, 0x00, 0x21, 0x0a, // v = 16 codes at row + j
  0x20, 0x09, // acc
  0x20, 0x0a, 0xfd, 0x87, 0x01, // i16x8.extend_low_i8x16_s(v)
  0x20, 0x01, 0x20, 0x07, 0x41, 0x01, 0x74, 0x6a, 0xfd, 0x00, 0x00, 0x00, // q16[j .. j + 8]
  0xfd, 0xba, 0x01, 0xfd, 0xae, 0x01, // acc += i32x4.dot_i16x8_s
  0x20, 0x0a, 0xfd, 0x88, 0x01, // i16x8.extend_high_i8x16_s(v)
  0x20, 0x01, 0x20, 0x07, 0x41, 0x01, 0x74, 0x6a, 0xfd, 0x00, 0x00, 0x10, // q16[j + 8 .. j + 16]
  0xfd, 0xba, 0x01, 0xfd, 0xae, 0x01, 0x21, 0x09, // acc += i32x4.dot_i16x8_s
  0x20, 0x07, 0x41, 0x10, 0x6a, 0x21, 0x07, // j += 16
  0x0c, 0x00, 0x0b, 0x0b, // continue; end loop; end block
  0x20, 0x03, 0x20, 0x06, 0x41, 0x02, 0x74, 0x6a, // address out + 4 i
  0x20, 0x09, 0xfd, 0x1b, 0x00, 0x20, 0x09, 0xfd, 0x1b, 0x01, 0x6a, // lane 0 + lane 1
  0x20, 0x09, 0xfd, 0x1b, 0x02, 0x6a, 0x20, 0x09, 0xfd, 0x1b, 0x03, 0x6a, // + lane 2 + lane 3
  0xb2, // f32.convert_i32_s
  0x20, 0x02, 0x20, 0x06, 0x41, 0x02, 0x74, 0x6a, 0x2a, 0x02, 0x00, 0x94, // x scales[i]
  0x38, 0x02, 0x00, // f32.store
  0x20, 0x08, 0x20, 0x05, 0x6a, 0x21, 0x08, // row += dim
  0x20, 0x06, 0x41, 0x01, 0x6a, 0x21, 0x06, // i += 1
  0x0c, 0x00, 0x0b, 0x0b, 0x0b,
];

/** Candidates scored exactly after the SIMD pass: its int16 query moves a score by ~1e-5, far less than the gap
 * between the k-th and the (k + EXTRA)-th row of any real collection (tests check recall 1 against exact). */
export const EXTRA = 128;

export type Int8Kernel = "wasm-simd-int8" | "js";

export class Int8Ranker {
  readonly kernel: Int8Kernel;
  readonly codes: Int8Array;
  readonly scales: Float32Array;
  private loadedRows = 0;
  private q16: Int16Array | null = null;
  private out: Float32Array | null = null;
  private fn: ((codes: number, q: number, scales: number, out: number, n: number, dim: number) => void) | null = null;
  private offsets = { q: 0, scales: 0, out: 0 };

  /** Room for `count` rows of `dim` int8 values; `center` as index_info.json gives it. */
  constructor(
    readonly count: number,
    readonly dim: number,
    readonly center: Float32Array,
    simd = true,
  ) {
    const wasm = simd ? this.instantiate() : null;
    if (wasm) {
      this.codes = new Int8Array(wasm, 0, count * dim);
      this.scales = new Float32Array(wasm, this.offsets.scales, count);
      this.kernel = "wasm-simd-int8";
    } else {
      this.codes = new Int8Array(count * dim);
      this.scales = new Float32Array(count);
      this.kernel = "js";
    }
  }

  private instantiate(): ArrayBuffer | null {
    const { count, dim } = this;
    if (dim % 16 !== 0 || typeof WebAssembly === "undefined") return null;
    const bytes = wasmModule("score8", 6, BODY);
    if (!WebAssembly.validate(bytes)) return null;
    const align = (x: number) => Math.ceil(x / 16) * 16;
    this.offsets.q = align(count * dim);
    this.offsets.scales = align(this.offsets.q + dim * 2);
    this.offsets.out = this.offsets.scales + count * 4;
    const pages = Math.ceil((this.offsets.out + count * 4) / 65536);
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    } catch {
      return null; // no room for the rows in WebAssembly memory: the JavaScript loop
    }
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    this.fn = instance.exports.score8 as Int8Ranker["fn"];
    this.q16 = new Int16Array(memory.buffer, this.offsets.q, dim);
    this.out = new Float32Array(memory.buffer, this.offsets.out, count);
    return memory.buffer;
  }

  /** Rows searchable now: the shards added so far, in order. */
  get loaded(): number {
    return this.loadedRows;
  }

  setScales(scales: Float32Array): void {
    if (scales.length !== this.count) throw new Error(`scales.f32: ${scales.length} values for ${this.count} rows`);
    this.scales.set(scales);
  }

  /** The next shard's codes (rows [loaded, loaded + n)). */
  addRows(codes: Int8Array): void {
    if (codes.length % this.dim !== 0 || this.loadedRows * this.dim + codes.length > this.codes.length) {
      throw new Error(`embeddings: ${codes.length} bytes do not fit rows ${this.loadedRows}.. of ${this.count} x ${this.dim}`);
    }
    this.codes.set(codes, this.loadedRows * this.dim);
    this.loadedRows += codes.length / this.dim;
  }

  private shift(q: Float32Array): number {
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += this.center[j]! * q[j]!;
    return s;
  }

  /** The exact score of row i (float64; Python computes the same in float32). */
  exact(i: number, q: Float32Array, shift = this.shift(q)): number {
    const { codes, dim } = this;
    let s = 0;
    for (let j = 0, base = i * dim; j < dim; j++) s += codes[base + j]! * q[j]!;
    return s * this.scales[i]! + shift;
  }

  /** Scores that order rows [0, loaded) as the exact ones do, up to the int16 rounding of the query. */
  approximate(q: Float32Array): ArrayLike<number> {
    const n = this.loadedRows;
    if (this.fn && this.q16 && this.out) {
      let peak = 0;
      for (let j = 0; j < this.dim; j++) peak = Math.max(peak, Math.abs(q[j]!));
      // |sum| <= 127 x top x dim must fit an int32 lane sum
      const top = Math.min(32767, Math.floor(2147483647 / (127 * this.dim)));
      const f = peak > 0 ? top / peak : 0;
      for (let j = 0; j < this.dim; j++) this.q16[j] = Math.round(q[j]! * f);
      this.fn(0, this.offsets.q, this.offsets.scales, this.offsets.out, n, this.dim);
      return this.out.subarray(0, n);
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.exact(i, q, 0);
    return out;
  }

  /** The k best loaded rows, best first, with exact scores (equal scores: lower row first). */
  rank(q: Float32Array, k: number, accept?: (row: number) => boolean, minScore = -Infinity): Hit[] {
    const shift = this.shift(q);
    return topK(this.approximate(q), k + EXTRA, accept)
      .map((c) => ({ id: c.id, score: this.exact(c.id, q, shift) }))
      .filter((h) => h.score >= minScore)
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, k);
  }

  /** Row i as a float32 vector (center + codes x scale), for "search with this image"; null until loaded. */
  vector(i: number): Float32Array | null {
    if (i < 0 || i >= this.loadedRows) return null;
    const v = new Float32Array(this.dim);
    const s = this.scales[i]!;
    for (let j = 0, base = i * this.dim; j < this.dim; j++) v[j] = this.center[j]! + this.codes[base + j]! * s;
    return v;
  }
}
