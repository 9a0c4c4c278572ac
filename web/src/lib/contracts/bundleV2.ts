// Bundle format version 2 (docs/FORMAT.md): the browser's reading of what `medmir index --bundle-format 2` writes.
// Pure functions over bytes and parsed JSON, so the unit tests run them on a bundle Python just wrote.

import { facetsV2, type FacetTable } from "./facets";
import { rowTableV2, type RowTable } from "./rowTable";

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

const TABLES = ["labels", "patients", "sex", "view"] as const;
const COLUMNS = ["filename", "labels", "primary_label", "patient", "age", "sex", "view"] as const;
type Table = (typeof TABLES)[number];

/** The columnar metadata.json, checked once whole (a malformed file throws a message naming the column or row),
 * then read a row at a time: 112,120 rows stay a few arrays, not 112,120 objects. */
export class Columns {
  readonly count: number;
  readonly labelNames: readonly string[];
  /** the optional top-level `facets` (DICOM tag values per row), checked like the columns */
  readonly facets: FacetTable;
  private cols: Record<(typeof COLUMNS)[number], unknown[]>;
  private tables: Record<Table, string[]>;

  constructor(meta: unknown, n: number) {
    const m = meta as { columns?: Record<string, unknown>; tables?: Record<string, unknown>; facets?: unknown } | null;
    if (!m?.columns || !m.tables) throw new Error("metadata.json: no columns and tables (not format version 2)");
    for (const t of TABLES) {
      const v = m.tables[t];
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw new Error(`metadata.json: table ${t} must list strings`);
    }
    for (const c of COLUMNS) {
      const v = m.columns[c];
      if (!Array.isArray(v) || v.length !== n) throw new Error(`metadata.json: column ${c} must list ${n} values`);
    }
    this.count = n;
    this.cols = m.columns as Columns["cols"];
    this.tables = m.tables as Columns["tables"];
    this.labelNames = this.tables.labels;
    for (let r = 0; r < n; r++) this.checkRow(r);
    this.facets = facetsV2(m.facets, n);
  }

  private checkRow(r: number): void {
    const index = (table: Table, i: unknown): void => {
      if (i === -1) return;
      if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= this.tables[table].length) {
        throw new Error(`metadata.json: row ${r}: ${JSON.stringify(i)} is not an index of table ${table}`);
      }
    };
    const c = this.cols;
    const ls = c.labels[r];
    if (!Array.isArray(ls) || ls.includes(-1)) throw new Error(`metadata.json: row ${r}: labels must be a list of label indices`);
    for (const j of ls) index("labels", j);
    index("labels", c.primary_label[r]);
    index("patients", c.patient[r]);
    index("sex", c.sex[r]);
    index("view", c.view[r]);
    if (typeof c.filename[r] !== "string") throw new Error(`metadata.json: row ${r}: filename must be a string`);
    const age = c.age[r];
    if (age !== null && typeof age !== "number") throw new Error(`metadata.json: row ${r}: age must be a number or null`);
  }

  private look(table: Table, i: unknown): string {
    return i === -1 ? "" : this.tables[table][i as number]!;
  }

  /** The columns the search filters read, as typed arrays (lib/contracts/rowTable.ts). */
  rowTable(): RowTable {
    return rowTableV2(this.count, this.tables, this.cols, this.facets);
  }

  /** Row r's label indices (into labelNames). */
  labelIds(r: number): readonly number[] {
    return this.cols.labels[r] as number[];
  }

  filename(r: number): string {
    return this.cols.filename[r] as string;
  }

  row(r: number): Row {
    const age = this.cols.age[r];
    return {
      filename: this.filename(r),
      labels: this.labelIds(r).map((j) => this.labelNames[j]!),
      primaryLabel: this.look("labels", this.cols.primary_label[r]),
      patient: this.look("patients", this.cols.patient[r]),
      age: typeof age === "number" ? age : null,
      sex: this.look("sex", this.cols.sex[r]),
      view: this.look("view", this.cols.view[r]),
    };
  }
}

/** Where thumbnail `row` lies: its pack and the byte range (inclusive end, as an HTTP Range header wants). */
export function thumbnailRange(index: Uint32Array, row: number, perPack: number): { file: string; start: number; end: number } {
  const offset = index[2 * row];
  const length = index[2 * row + 1];
  if (offset === undefined || length === undefined || length === 0) throw new Error(`thumbs.idx: no thumbnail for row ${row}`);
  return { file: thumbPack(Math.floor(row / perPack)), start: offset, end: offset + length - 1 };
}
