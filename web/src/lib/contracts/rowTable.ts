// The per-image metadata the search filters read (labels, patient, age, sex, view, facets), as typed columns built once
// when a collection opens, from either bundle format (docs/FORMAT.md). The worker's one row predicate
// (worker/collection/collection.ts rowFilter) reads only these arrays: strings are looked up once per search, never per
// row, so a filter over 500,000 rows is a few array reads per row.

import { facetsV1, type FacetTable } from "./facets";
import type { MetadataEntry } from "./metadata";

export interface RowTable {
  readonly count: number;
  /** the label table: row label ids index it */
  readonly labelNames: readonly string[];
  /** row r's label ids are labelIds[labelStart[r] .. labelStart[r + 1]) (each at most once) */
  readonly labelStart: Uint32Array;
  readonly labelIds: Int32Array;
  /** per row an index into `patients`, -1 unknown */
  readonly patients: readonly string[];
  readonly patient: Int32Array;
  /** years; NaN unknown */
  readonly age: Float64Array;
  readonly sexNames: readonly string[];
  /** per row an index into sexNames, -1 unknown */
  readonly sex: Int32Array;
  readonly viewNames: readonly string[];
  /** per row an index into viewNames, -1 unknown */
  readonly view: Int32Array;
  readonly facets: FacetTable;
}

/** A value with how many rows have it. */
export interface ValueCount {
  value: string;
  count: number;
}

/** What the page is told of the collection's metadata (the ready message): each value's count over every row. */
export interface CollectionCounts {
  labels: ValueCount[];
  sex: ValueCount[];
  view: ValueCount[];
  /** the known ages' range, and how many rows have one; null when none has */
  age: { min: number; max: number; known: number } | null;
  /** distinct known patients */
  patients: number;
}

/** String values to codes into a growing table ("" and null: -1, unknown). */
function coder() {
  const names: string[] = [];
  const ids = new Map<string, number>();
  const code = (v: string | null | undefined): number => {
    if (!v) return -1;
    let i = ids.get(v);
    if (i === undefined) {
      i = names.length;
      names.push(v);
      ids.set(v, i);
    }
    return i;
  };
  return { names, code };
}

/** CSR label columns from per-row label id lists (a label listed twice in a row counts once). */
function labelColumns(n: number, ids: (r: number) => readonly number[]) {
  const start = new Uint32Array(n + 1);
  const flat: number[] = [];
  for (let r = 0; r < n; r++) {
    const seen = ids(r);
    for (let j = 0; j < seen.length; j++) if (seen.indexOf(seen[j]!) === j) flat.push(seen[j]!);
    start[r + 1] = flat.length;
  }
  return { labelStart: start, labelIds: Int32Array.from(flat) };
}

const ageOf = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : NaN);

/** Version 1: metadata.json's entries. */
export function rowTableV1(images: readonly MetadataEntry[]): RowTable {
  const n = images.length;
  const labelNames = [...new Set(images.flatMap((m) => m.labels))].sort();
  const index = new Map(labelNames.map((l, i) => [l, i]));
  const patients = coder();
  const sexes = coder();
  const views = coder();
  const patient = new Int32Array(n);
  const age = new Float64Array(n);
  const sex = new Int32Array(n);
  const view = new Int32Array(n);
  images.forEach((m, r) => {
    patient[r] = patients.code(m.patient_id);
    age[r] = ageOf(m.age);
    sex[r] = sexes.code(m.sex);
    view[r] = views.code(m.view);
  });
  return {
    count: n,
    labelNames,
    ...labelColumns(n, (r) => images[r]!.labels.map((l) => index.get(l)!)),
    patients: patients.names,
    patient,
    age,
    sexNames: sexes.names,
    sex,
    viewNames: views.names,
    view,
    facets: facetsV1(images),
  };
}

/** Table codes as typed values: -1 stays unknown, and so does a code whose table value is empty. */
function codes(col: readonly unknown[], table: readonly string[]): Int32Array {
  const out = new Int32Array(col.length);
  for (let r = 0; r < col.length; r++) {
    const i = col[r] as number;
    out[r] = i >= 0 && table[i] ? i : -1;
  }
  return out;
}

/** Version 2: the columnar metadata.json, already checked (lib/contracts/bundleV2.ts Columns). */
export function rowTableV2(
  n: number,
  tables: { labels: readonly string[]; patients: readonly string[]; sex: readonly string[]; view: readonly string[] },
  cols: { labels: readonly unknown[]; patient: readonly unknown[]; age: readonly unknown[]; sex: readonly unknown[]; view: readonly unknown[] },
  facets: FacetTable,
): RowTable {
  const age = new Float64Array(n);
  for (let r = 0; r < n; r++) age[r] = ageOf(cols.age[r]);
  return {
    count: n,
    labelNames: tables.labels,
    ...labelColumns(n, (r) => cols.labels[r] as number[]),
    patients: tables.patients,
    patient: codes(cols.patient, tables.patients),
    age,
    sexNames: tables.sex,
    sex: codes(cols.sex, tables.sex),
    viewNames: tables.view,
    view: codes(cols.view, tables.view),
    facets,
  };
}

const natural = new Intl.Collator("en", { numeric: true }).compare;

/** Each table value's count over the codes (unknown left out, and values no row has), in a natural order. */
export function valueCounts(names: readonly string[], codes: ArrayLike<number>): ValueCount[] {
  const counts = new Array<number>(names.length).fill(0);
  for (let r = 0; r < codes.length; r++) if (codes[r]! >= 0) counts[codes[r]!]! += 1;
  return names
    .map((value, i) => ({ value, count: counts[i]! }))
    .filter((v) => v.count > 0)
    .sort((a, b) => natural(a.value, b.value));
}

export function collectionCounts(t: RowTable): CollectionCounts {
  let min = Infinity;
  let max = -Infinity;
  let known = 0;
  for (const a of t.age) {
    if (Number.isNaN(a)) continue;
    known++;
    if (a < min) min = a;
    if (a > max) max = a;
  }
  const seen = new Uint8Array(t.patients.length);
  let patients = 0;
  for (const p of t.patient) if (p >= 0 && !seen[p]) (seen[p] = 1), patients++;
  return {
    labels: valueCounts(t.labelNames, t.labelIds),
    sex: valueCounts(t.sexNames, t.sex),
    view: valueCounts(t.viewNames, t.view),
    age: known ? { min, max, known } : null,
    patients,
  };
}

/** Row r's patient id ("" unknown). */
/** Whether rows a and b are images of one known patient. */
export function samePatient(t: RowTable, a: number, b: number): boolean {
  const p = t.patient[a]!;
  return p >= 0 && t.patient[b] === p;
}

export function patientOf(t: RowTable, r: number): string {
  const p = t.patient[r]!;
  return p >= 0 ? t.patients[p]! : "";
}

/** Row r's facet values by facet name (only the known ones). */
export function facetValues(t: RowTable, r: number): Record<string, string> {
  const out: Record<string, string> = {};
  t.facets.names.forEach((name, f) => {
    const v = t.facets.rows[f]![r]!;
    if (v >= 0) out[name] = t.facets.values[f]![v]!;
  });
  return out;
}
