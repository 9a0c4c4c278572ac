// The collection a search worker ranks: one interface over the two bundle formats (docs/FORMAT.md). Version 1:
// float32 rows, metadata.json entries, nearest_neighbors.json, one WebP file a thumbnail. Version 2: int8 rows in
// shards that load progressively, columnar metadata, neighbours and thumbnails read by HTTP Range.

import { bundleFile, type FileMeta } from "../../lib/contracts/bundle";
import { fetchVerified, type Progress } from "../../lib/storage/cache";
import { facetFilter, hasFacetFilters, summarize, type FacetSummary } from "../../lib/contracts/facets";
import type { MetadataEntry } from "../../lib/contracts/metadata";
import { collectionCounts, facetValues, patientOf, rowTableV1, type CollectionCounts, type RowTable, samePatient } from "../../lib/contracts/rowTable";
import type { Filters, RowInfo } from "../../lib/protocol/messages";
import type { FallbackEntry } from "../rank/queryMatch";
import { createScorer, topK, type Hit, type Scorer } from "../rank/ranking";

export interface Collection {
  readonly version: 1 | 2;
  readonly count: number;
  readonly dim: number;
  /** the ranking kernel in use */
  readonly kernel: string;
  readonly fallback: FallbackEntry[];
  /** rows searchable now (all of them once every shard is in) */
  loaded(): number;
  /** every label of the collection, sorted */
  labelNames(): string[];
  /** the collection's facets with their values' counts (empty without facets) */
  facetSummary(): FacetSummary[];
  /** labels, sex, view, ages and patients over the collection */
  counts(): CollectionCounts;
  /** whether rows a and b are images of one (known) patient */
  samePatient(a: number, b: number): boolean;
  /** the k best loaded rows for q, best first, among the rows the filters accept */
  rank(q: Float32Array, k: number, f?: Filters): Hit[];
  /** row's embedding as a query (waits for its shard) */
  vector(row: number): Promise<Float32Array>;
  /** the precomputed neighbours of row, best first */
  neighbors(row: number): Promise<Hit[]>;
  rows(ids: readonly number[]): RowInfo[];
  /** thumbnails' bytes where the page cannot load them by URL (version 2), else null */
  thumbnails(ids: readonly number[]): Promise<(Uint8Array | null)[]>;
  rowOf(filename: string): number | undefined;
  /** what open() left to load (version 2: the other shards, in order); resolves when every row is searchable */
  loadRest(progress: ProgressFor, onLoaded: (rows: number) => void): Promise<void>;
}

export type Files = Record<string, FileMeta>;
export type ProgressFor = (file: string) => Progress;

export function parseJson<T>(bytes: Uint8Array, name: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new Error(`${name}: not valid JSON`);
  }
}

/** Bundle files, verified, in the order named (a tuple of names gives a tuple of bytes). */
export function fetchAll<const N extends readonly string[]>(
  base: string,
  info: { files: Files },
  names: N,
  progress: ProgressFor,
): Promise<{ -readonly [K in keyof N]: Uint8Array }> {
  const all = Promise.all(names.map((name) => fetchVerified(bundleFile(base, info, name), progress(name))));
  return all as Promise<{ -readonly [K in keyof N]: Uint8Array }>;
}

export function checkRow(row: number, count: number): void {
  if (!Number.isInteger(row) || row < 0 || row >= count) throw new Error(`no image with id ${row}`);
}

/** Whether any filter narrows the rows (labels, facets, age, sex, view, the patient rule) or the minimum score is set:
 * the precomputed results (fallback queries, neighbours) answer only searches with none. */
export function hasFilters(f?: Filters): boolean {
  if (!f) return false;
  const some = (l?: readonly unknown[]) => (l?.length ?? 0) > 0;
  return (
    some(f.include) || some(f.all) || some(f.exclude) || f.minScore > -1 || hasFacetFilters(f.facets) ||
    f.ageMin !== undefined || f.ageMax !== undefined || some(f.sex) || some(f.view) || f.exceptPatientOf !== undefined
  );
}

type Accept = (row: number) => boolean;

// a label's part in a label filter (bits of one byte per label)
const ANY = 1;
const ALL = 2;
const NONE = 4;

/** The label filter (any of `include`, all of `all`, none of `exclude`) over the table's label columns; undefined
 * when none is set. Per label one byte says its part, so a row costs a read per label it has. A label the
 * collection lacks: in `include` it adds nothing, in `all` no row passes, in `exclude` it removes nothing. */
export function labelFilter(t: Pick<RowTable, "labelNames" | "labelStart" | "labelIds">, f?: Filters): Accept | undefined {
  const inc = f?.include ?? [];
  const all = [...new Set(f?.all ?? [])];
  const exc = f?.exclude ?? [];
  if (inc.length + all.length + exc.length === 0) return undefined;
  const index = new Map(t.labelNames.map((l, i) => [l, i]));
  const role = new Uint8Array(t.labelNames.length);
  for (const l of inc) if (index.has(l)) role[index.get(l)!]! |= ANY;
  for (const l of exc) if (index.has(l)) role[index.get(l)!]! |= NONE;
  let need = 0;
  for (const l of all) {
    if (!index.has(l)) return () => false;
    role[index.get(l)!]! |= ALL;
    need++;
  }
  const wantAny = inc.length > 0;
  const { labelStart: start, labelIds: ids } = t;
  return (row) => {
    let any = !wantAny;
    let have = 0;
    for (let j = start[row]!, end = start[row + 1]!; j < end; j++) {
      const r = role[ids[j]!]!;
      if (r === 0) continue;
      if (r & NONE) return false;
      if (r & ANY) any = true;
      if (r & ALL) have++;
    }
    return any && have === need;
  };
}

/** Rows whose code (an index into `names`, -1 unknown) is one of `chosen`; undefined when nothing is chosen. A
 * value the collection lacks matches no row. */
export function valueFilter(names: readonly string[], codes: Int32Array, chosen?: readonly string[]): Accept | undefined {
  if (!chosen?.length) return undefined;
  const ok = new Uint8Array(names.length + 1); // slot 0: unknown (-1), never accepted
  for (const v of chosen) {
    const i = names.indexOf(v);
    if (i >= 0) ok[i + 1] = 1;
  }
  return (row) => ok[codes[row]! + 1] === 1;
}

/** Rows of an age within [min, max] (either bound may be unset); undefined when neither is set. Unknown ages (NaN)
 * fail every comparison: left out once a range is set. */
export function ageFilter(age: Float64Array, min?: number, max?: number): Accept | undefined {
  if (min === undefined && max === undefined) return undefined;
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  return (row) => {
    const a = age[row]!;
    return a >= lo && a <= hi;
  };
}

/** Leave out the other images of `query`'s patient (the query row itself stays); undefined for an unknown patient. */
export function patientFilter(patient: Int32Array, query?: number): Accept | undefined {
  if (query === undefined) return undefined;
  const p = patient[query] ?? -1;
  if (p < 0) return undefined;
  return (row) => row === query || patient[row] !== p;
}

/** The one row filter of a search: labels, facets, age, sex, view and the patient rule together; undefined when
 * none is set. Strings are looked up here, once; per row it reads typed columns only. */
export function rowFilter(t: RowTable, f?: Filters): Accept | undefined {
  if (!f) return undefined;
  const checks = [
    patientFilter(t.patient, f.exceptPatientOf),
    valueFilter(t.sexNames, t.sex, f.sex),
    valueFilter(t.viewNames, t.view, f.view),
    ageFilter(t.age, f.ageMin, f.ageMax),
    facetFilter(t.facets, f.facets),
    labelFilter(t, f),
  ].filter((c): c is Accept => c !== undefined);
  if (checks.length <= 1) return checks[0];
  if (checks.length === 2) {
    const [a, b] = checks as [Accept, Accept];
    return (row) => a(row) && b(row);
  }
  return (row) => {
    for (const c of checks) if (!c(row)) return false;
    return true;
  };
}

/** Whether Find Similar may answer with the precomputed neighbours of `row`: no filter is set but the patient rule,
 * and that rule (when set) leaves out none of them, so they are exactly the best rows it allows (the rows it would
 * leave out are not among them). Otherwise the worker ranks the row's embedding live, with the filters. */
export function neighborsAnswer(f: Filters | undefined, neighbors: readonly Hit[], row: number, samePatient: (a: number, b: number) => boolean): boolean {
  if (hasFilters({ ...(f ?? { include: [], exclude: [], minScore: -1 }), exceptPatientOf: undefined })) return false;
  if (f?.exceptPatientOf === undefined) return true;
  return !neighbors.some((h) => h.id !== row && samePatient(row, h.id));
}

/** Version 1: what the first round's worker held, behind the interface. */
export class CollectionV1 implements Collection {
  readonly version = 1;
  readonly kernel: string;
  private table: RowTable;
  private byName: Map<string, number> | null = null;
  private nn: Promise<{ ids: number[][]; scores: number[][] }> | null = null;

  private constructor(
    private base: string,
    private files: Files,
    readonly dim: number,
    private scorer: Scorer,
    private meta: MetadataEntry[],
    readonly fallback: FallbackEntry[],
  ) {
    this.kernel = scorer.kind;
    this.table = rowTableV1(meta);
  }

  /** the bundle files open() downloads (the page lists them, with their sizes, before any byte moves) */
  static readonly FIRST_FILES = ["embeddings.bin", "fallback_results.json", "metadata.json"] as const;

  static async open(base: string, info: { count: number; dim: number; files: Files }, progress: ProgressFor) {
    const [emb, fallback, meta] = await fetchAll(base, info, CollectionV1.FIRST_FILES, progress);
    const images = parseJson<{ images: MetadataEntry[] }>(meta, "metadata.json").images;
    if (!Array.isArray(images) || images.length !== info.count) {
      throw new Error(`metadata.json: ${images?.length} entries, index_info.json says ${info.count}`);
    }
    const scorer = createScorer(new Float32Array(emb.buffer, emb.byteOffset, info.count * info.dim), info.dim);
    const fb = parseJson<{ queries: FallbackEntry[] }>(fallback, "fallback_results.json").queries;
    return new CollectionV1(base, info.files, info.dim, scorer, images, fb);
  }

  get count(): number {
    return this.meta.length;
  }

  loaded(): number {
    return this.count;
  }

  labelNames(): string[] {
    return [...this.table.labelNames];
  }

  facetSummary(): FacetSummary[] {
    return summarize(this.table.facets);
  }

  counts(): CollectionCounts {
    return collectionCounts(this.table);
  }

  samePatient(a: number, b: number): boolean {
    return samePatient(this.table, a, b);
  }

  rank(q: Float32Array, k: number, f?: Filters): Hit[] {
    const accept = rowFilter(this.table, f);
    return topK(this.scorer.score(q), k, accept, f?.minScore ?? -Infinity);
  }

  async vector(row: number): Promise<Float32Array> {
    checkRow(row, this.count);
    return this.scorer.rows.slice(row * this.dim, (row + 1) * this.dim);
  }

  async neighbors(row: number): Promise<Hit[]> {
    checkRow(row, this.count);
    this.nn ??= fetchVerified(bundleFile(this.base, { files: this.files }, "nearest_neighbors.json")).then((b) =>
      parseJson<{ ids: number[][]; scores: number[][] }>(b, "nearest_neighbors.json"),
    );
    const nn = await this.nn;
    return (nn.ids[row] ?? []).map((id, i) => ({ id, score: nn.scores[row]![i]! }));
  }

  rows(ids: readonly number[]): RowInfo[] {
    return ids.map((i) => {
      const m = this.meta[i]!;
      const t = this.table;
      return { filename: m.filename, labels: m.labels, report: m.report, thumbnail: m.thumbnail, patient: patientOf(t, i),
        age: Number.isNaN(t.age[i]!) ? null : t.age[i]!, sex: m.sex ?? "", view: m.view ?? "", facets: facetValues(t, i) };
    });
  }

  async thumbnails(ids: readonly number[]): Promise<(Uint8Array | null)[]> {
    return ids.map(() => null);
  }

  rowOf(filename: string): number | undefined {
    this.byName ??= new Map(this.meta.map((m, i) => [m.filename, i]));
    return this.byName.get(filename);
  }

  async loadRest(): Promise<void> {} // every row came with open()
}
