// The collection a search worker ranks: one interface over the two bundle formats (docs/FORMAT.md). Version 1:
// float32 rows, metadata.json entries, nearest_neighbors.json, one WebP file a thumbnail. Version 2: int8 rows in
// shards that load progressively, columnar metadata, neighbours and thumbnails read by HTTP Range.

import { bundleFile, type FileMeta } from "../lib/bundle";
import { fetchVerified, type Progress } from "../lib/cache";
import { facetFilter, facetsV1, summarize, type FacetSummary, type FacetTable } from "../lib/facets";
import type { MetadataEntry } from "../lib/metricsTypes";
import type { Filters, RowInfo } from "./messages";
import type { FallbackEntry } from "./queryMatch";
import { createScorer, topK, type Hit, type Scorer } from "./ranking";

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

/** A row filter from label names, over each row's labels as `ids` into a name table; undefined when none is set. */
export function labelFilter(names: readonly string[], ids: (row: number) => readonly number[], f?: Filters) {
  if (!f || (f.include.length === 0 && f.exclude.length === 0)) return undefined;
  const inc = new Set(f.include.map((l) => names.indexOf(l)));
  const exc = new Set(f.exclude.map((l) => names.indexOf(l)));
  return (row: number): boolean => {
    const ls = ids(row);
    if (inc.size && !ls.some((l) => inc.has(l))) return false;
    return !ls.some((l) => exc.has(l));
  };
}

/** The one row filter of a search: labels (include/exclude) and facets together; undefined when neither is set. */
export function rowFilter(
  names: readonly string[],
  ids: (row: number) => readonly number[],
  facets: FacetTable,
  f?: Filters,
): ((row: number) => boolean) | undefined {
  const byLabel = labelFilter(names, ids, f);
  const byFacet = facetFilter(facets, f?.facets);
  if (!byLabel || !byFacet) return byLabel ?? byFacet;
  return (row) => byFacet(row) && byLabel(row);
}

/** Version 1: what the first round's worker held, behind the interface. */
export class CollectionV1 implements Collection {
  readonly version = 1;
  readonly kernel: string;
  private names: string[];
  private labelIds: number[][];
  private facets: FacetTable;
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
    this.names = [...new Set(meta.flatMap((m) => m.labels))].sort();
    const index = new Map(this.names.map((n, i) => [n, i]));
    this.labelIds = meta.map((m) => m.labels.map((l) => index.get(l)!));
    this.facets = facetsV1(meta);
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
    return this.names;
  }

  facetSummary(): FacetSummary[] {
    return summarize(this.facets);
  }

  rank(q: Float32Array, k: number, f?: Filters): Hit[] {
    const accept = rowFilter(this.names, (r) => this.labelIds[r]!, this.facets, f);
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
      return { filename: m.filename, labels: m.labels, report: m.report, thumbnail: m.thumbnail };
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
