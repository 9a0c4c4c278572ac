// Bundle format version 2 in the search worker (docs/FORMAT.md). The page can search once the metadata, the
// scales, the thumbnail index and the first int8 shard are in; the other shards follow in the background, each
// verified and kept on the device, and every result says how many rows it covered. Neighbours and thumbnails
// are read by HTTP Range from their shards and packs (whole files where a host ignores Range).

import { bundleFile } from "../../lib/contracts/bundle";
import { Columns, embeddingShard, neighborIdsShard, neighborScoresShard, parseInfoV2, shardCount, thumbnailRange, type InfoV2 } from "../../lib/contracts/bundleV2";
import { fetchVerified } from "../../lib/storage/cache";
import { RangeReader } from "../../lib/storage/ranges";
import { summarize, type FacetSummary } from "../../lib/contracts/facets";
import { collectionCounts, facetValues, type CollectionCounts, type RowTable, samePatient } from "../../lib/contracts/rowTable";
import { checkRow, fetchAll, parseJson, rowFilter, type Collection, type ProgressFor } from "./collection";
import { Int8Ranker } from "../rank/int8Ranking";
import type { Filters, RowInfo } from "../../lib/protocol/messages";
import type { FallbackEntry } from "../rank/queryMatch";
import type { Hit } from "../rank/ranking";

/** Little-endian numbers from bytes at any offset (a copy, so the view is aligned). */
const f32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);
const i32 = (b: Uint8Array) => new Int32Array(b.slice().buffer);
const u32 = (b: Uint8Array) => new Uint32Array(b.slice().buffer);

export class CollectionV2 implements Collection {
  readonly version = 2;
  private ranges = new RangeReader();
  private waiters: { row: number; resolve: () => void }[] = [];
  private byName: Map<string, number> | null = null;
  private table: RowTable;

  private constructor(
    private base: string,
    private info: InfoV2,
    private ranker: Int8Ranker,
    private cols: Columns,
    private thumbIndex: Uint32Array,
    readonly fallback: FallbackEntry[],
  ) {
    this.table = cols.rowTable();
  }

  /** the bundle files open() downloads: everything the first search needs */
  static readonly FIRST_FILES = ["metadata.json", "fallback_results.json", "scales.f32", "thumbs.idx", embeddingShard(0)] as const;

  /** Everything the first search needs: the rest of the shards load with loadRest(). */
  static async open(base: string, rawInfo: unknown, progress: ProgressFor): Promise<CollectionV2> {
    const info = parseInfoV2(rawInfo);
    const [meta, fallback, scales, thumbs, first] = await fetchAll(base, info, CollectionV2.FIRST_FILES, progress);
    const cols = new Columns(parseJson(meta, "metadata.json"), info.count);
    const ranker = new Int8Ranker(info.count, info.dim, info.center);
    ranker.setScales(f32(scales));
    const index = u32(thumbs);
    if (index.length !== 2 * info.count) throw new Error(`thumbs.idx: ${index.length / 2} entries for ${info.count} rows`);
    const fb = parseJson<{ queries: FallbackEntry[] }>(fallback, "fallback_results.json").queries;
    const c = new CollectionV2(base, info, ranker, cols, index, fb);
    c.addShard(0, first);
    return c;
  }

  /** The remaining shards, in order (ranking assumes rows [0, loaded)); resolves when all are in. */
  async loadRest(progress: ProgressFor, onLoaded: (rows: number) => void): Promise<void> {
    for (let s = 1; s < shardCount(this.info.count, this.info.shardRows); s++) {
      const name = embeddingShard(s);
      this.addShard(s, await fetchVerified(bundleFile(this.base, this.info, name), progress(name)));
      onLoaded(this.ranker.loaded);
    }
  }

  private addShard(s: number, bytes: Uint8Array): void {
    const rows = Math.min(this.info.shardRows, this.info.count - s * this.info.shardRows);
    if (bytes.byteLength !== rows * this.info.dim) {
      throw new Error(`${embeddingShard(s)}: ${bytes.byteLength} bytes, expected ${rows} x ${this.info.dim}`);
    }
    this.ranker.addRows(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const loaded = this.ranker.loaded;
    this.waiters = this.waiters.filter((w) => (w.row < loaded ? (w.resolve(), false) : true));
  }

  get count(): number {
    return this.info.count;
  }

  get dim(): number {
    return this.info.dim;
  }

  get kernel(): string {
    return this.ranker.kernel;
  }

  loaded(): number {
    return this.ranker.loaded;
  }

  labelNames(): string[] {
    return [...this.cols.labelNames].sort();
  }

  facetSummary(): FacetSummary[] {
    return summarize(this.cols.facets);
  }

  counts(): CollectionCounts {
    return collectionCounts(this.table);
  }

  samePatient(a: number, b: number): boolean {
    return samePatient(this.table, a, b);
  }

  rank(q: Float32Array, k: number, f?: Filters): Hit[] {
    const accept = rowFilter(this.table, f);
    return this.ranker.rank(q, k, accept, f?.minScore ?? -Infinity);
  }

  async vector(row: number): Promise<Float32Array> {
    checkRow(row, this.count);
    if (row >= this.ranker.loaded) await new Promise<void>((resolve) => this.waiters.push({ row, resolve }));
    return this.ranker.vector(row)!;
  }

  async neighbors(row: number): Promise<Hit[]> {
    checkRow(row, this.count);
    const { k, shardRows } = this.info;
    if (k === 0) return [];
    const s = Math.floor(row / shardRows);
    const start = (row - s * shardRows) * k * 4;
    const [ids, scores] = await Promise.all([
      this.ranges.read(bundleFile(this.base, this.info, neighborIdsShard(s)), start, start + 4 * k - 1).then(i32),
      this.ranges.read(bundleFile(this.base, this.info, neighborScoresShard(s)), start, start + 4 * k - 1).then(f32),
    ]);
    const hits: Hit[] = [];
    ids.forEach((id, i) => {
      if (id >= 0 && id < this.count) hits.push({ id, score: scores[i]! });
    });
    return hits;
  }

  rows(ids: readonly number[]): RowInfo[] {
    return ids.map((i) => ({ ...this.cols.row(i), thumbnail: null, facets: facetValues(this.table, i) }));
  }

  thumbnails(ids: readonly number[]): Promise<(Uint8Array | null)[]> {
    return Promise.all(
      ids.map(async (row) => {
        checkRow(row, this.count);
        const r = thumbnailRange(this.thumbIndex, row, this.info.thumbsPerPack);
        // one missing thumbnail must not hide the others: the page shows a placeholder for it
        return this.ranges.read(bundleFile(this.base, this.info, r.file), r.start, r.end).catch(() => null);
      }),
    );
  }

  rowOf(filename: string): number | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (let i = 0; i < this.count; i++) this.byName.set(this.cols.filename(i), i);
    }
    return this.byName.get(filename);
  }
}
