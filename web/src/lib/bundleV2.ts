// Bundle format version 2 (docs/FORMAT.md): the browser's reading of what `medmir index --bundle-format 2` writes.
// Pure functions over bytes and parsed JSON, so the unit tests run them on a bundle Python just wrote.

export interface InfoV2 {
  count: number;
  dim: number;
  center: Float32Array;
  shardRows: number;
  thumbsPerPack: number;
  k: number;
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface Row {
  filename: string;
  labels: string[];
  primaryLabel: string;
  patient: string;
  age: number | null;
  sex: string;
  view: string;
}

function fail(what: string): never {
  throw new Error(`index_info.json: ${what}`);
}

function int(v: unknown, name: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) fail(`${name} must be an integer >= ${min}`);
  return v;
}

export function parseInfoV2(info: unknown): InfoV2 {
  if (typeof info !== "object" || info === null) fail("not an object");
  const o = info as Record<string, unknown>;
  if (o["format"] !== "medmir-bundle" || o["format_version"] !== 2) fail("not a medmir-bundle of format_version 2");
  const dim = int(o["dim"], "dim", 1);
  const center = o["center"];
  if (!Array.isArray(center) || center.length !== dim || !center.every((v) => typeof v === "number")) {
    fail(`center must list ${dim} numbers`);
  }
  const nb = o["neighbors"] as Record<string, unknown> | undefined;
  return {
    count: int(o["count"], "count", 0),
    dim,
    center: Float32Array.from(center as number[]),
    shardRows: int(o["shard_rows"], "shard_rows", 1),
    thumbsPerPack: int(o["thumbs_per_pack"], "thumbs_per_pack", 1),
    k: int(nb?.["k"], "neighbors.k", 0),
    files: (o["files"] ?? fail("no files")) as InfoV2["files"],
  };
}

const pad3 = (i: number): string => String(i).padStart(3, "0");
export const embeddingShard = (i: number): string => `embeddings-${pad3(i)}.i8`;
export const neighborIdsShard = (i: number): string => `neighbors-${pad3(i)}.i32`;
export const neighborScoresShard = (i: number): string => `neighbor-scores-${pad3(i)}.f32`;
export const thumbPack = (i: number): string => `thumbs-${pad3(i)}.pack`;
export const shardCount = (n: number, per: number): number => Math.ceil(n / per);

/** The columnar metadata.json as rows; a malformed file throws a message naming the column or row. */
export function decodeColumns(meta: unknown, n: number): Row[] {
  const m = meta as { columns?: Record<string, unknown[]>; tables?: Record<string, string[]> } | null;
  const cols = m?.columns;
  const tables = m?.tables;
  if (!cols || !tables) throw new Error("metadata.json: no columns and tables (not format version 2)");
  for (const c of ["filename", "labels", "primary_label", "patient", "age", "sex", "view"]) {
    if (!Array.isArray(cols[c]) || cols[c].length !== n) throw new Error(`metadata.json: column ${c} must list ${n} values`);
  }
  const look = (table: string, i: unknown, row: number): string => {
    if (i === -1) return "";
    const t = tables[table];
    if (!Array.isArray(t) || typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= t.length) {
      throw new Error(`metadata.json: row ${row}: ${JSON.stringify(i)} is not an index of table ${table}`);
    }
    return t[i]!;
  };
  const rows: Row[] = [];
  for (let r = 0; r < n; r++) {
    const labels = cols["labels"]![r];
    if (!Array.isArray(labels)) throw new Error(`metadata.json: row ${r}: labels must be a list of label indices`);
    const age = cols["age"]![r];
    rows.push({
      filename: String(cols["filename"]![r]),
      labels: labels.map((j) => look("labels", j, r)),
      primaryLabel: look("labels", cols["primary_label"]![r], r),
      patient: look("patients", cols["patient"]![r], r),
      age: typeof age === "number" ? age : null,
      sex: look("sex", cols["sex"]![r], r),
      view: look("view", cols["view"]![r], r),
    });
  }
  return rows;
}

/** The int8 rows of one bundle: shards joined, with their scales and the center (score rule of docs/FORMAT.md). */
export class Int8Rows {
  readonly count: number;
  constructor(
    readonly codes: Int8Array,
    readonly scales: Float32Array,
    readonly center: Float32Array,
    readonly dim: number,
  ) {
    this.count = scales.length;
    if (codes.length !== this.count * dim) throw new Error(`embeddings: ${codes.length} bytes for ${this.count} x ${dim}`);
  }

  /** out[i] = scales[i] * (codes[i] . q) + center . q, accumulated in float64 (Python's order, within rounding). */
  scores(q: Float32Array, out?: Float64Array): Float64Array {
    const { codes, scales, dim, count } = this;
    const res = out && out.length === count ? out : new Float64Array(count);
    let shift = 0;
    for (let j = 0; j < dim; j++) shift += this.center[j]! * q[j]!;
    for (let i = 0, base = 0; i < count; i++, base += dim) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += codes[base + j]! * q[j]!;
      res[i] = s * scales[i]! + shift;
    }
    return res;
  }
}

/** Where thumbnail `row` lies: its pack and the byte range (inclusive end, as an HTTP Range header wants). */
export function thumbnailRange(index: Uint32Array, row: number, perPack: number): { file: string; start: number; end: number } {
  const offset = index[2 * row];
  const length = index[2 * row + 1];
  if (offset === undefined || length === undefined || length === 0) throw new Error(`thumbs.idx: no thumbnail for row ${row}`);
  return { file: thumbPack(Math.floor(row / perPack)), start: offset, end: offset + length - 1 };
}
