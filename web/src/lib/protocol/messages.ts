// The worker protocol. Every request carries an id; replies name it. A newer search supersedes older ones.
import type { IndexInfo, Manifest } from "../contracts/bundle";
import type { FacetSelection, FacetSummary } from "../contracts/facets";
import type { CollectionCounts } from "../contracts/rowTable";

export interface ProgressInfo {
  file: string;
  loaded: number;
  total: number;
  fromCache: boolean;
}

export interface ReadyInfo {
  count: number;
  /** rows searchable at ready (fewer than count while a version 2 bundle's shards load) */
  loaded: number;
  /** every label of the collection, sorted (the filters offer them) */
  labels: string[];
  /** the collection's facets (DICOM tag values) with their values' counts; empty for bundles without facets */
  facets: FacetSummary[];
  /** labels, sex, view, ages and patients over the collection (the filters show these counts) */
  counts?: CollectionCounts;
  /** the ranking kernel, e.g. "wasm-simd-int8" */
  kernel: string;
  formatVersion: 1 | 2;
  dim: number;
  randomWeights: boolean;
  modelTitle: string;
  /** WASM threads in use, and why (worker/model/threads.ts) */
  threads: number;
  threadReason: ThreadReason;
  fallbackQueries: string[];
  /** when each start-up step ended (epoch ms, performance.timeOrigin + now): where a visit's wait went */
  startup: Record<StartupStep, number>;
}

/** Why the worker runs its WASM thread count (worker/model/threads.ts chooses it). */
export type ThreadReason = "single" | "default" | "explore" | "measured";

export type StartupStep = "init" | "contracts" | "textBytes" | "textSession" | "collection" | "ready";

/** A model's warm-up finished: `runs` dummy runs in `ms`, the last ones taking `steadyMs` each. */
export interface WarmInfo {
  model: "text" | "vision";
  runs: number;
  steadyMs: number;
  ms: number;
}

/** composed: words with exclusions or an image plus words; refined: re-ranked by the marked results (Rocchio) */
export type SearchPath = "exact" | "fuzzy" | "live" | "image" | "row" | "neighbors" | "composed" | "refined";

/** A query made of parts (worker/rank/compose.ts), always answered live: a base (words, a collection row, or the image
 * last uploaded to this page, whose embedding the worker keeps), the excluded words (a words base), the words added
 * (an image or row base; "" for none), and the rows marked relevant (pos) and not relevant (neg). */
export interface QuerySpec {
  base: { kind: "text"; text: string } | { kind: "row"; row: number } | { kind: "image" };
  minus: string[];
  plus: string;
  pos: number[];
  neg: number[];
}

/** What the page shows of a result row (plain text, never markup). */
export interface RowInfo {
  filename: string;
  labels: string[];
  /** version 1 bundles: a report snippet */
  report?: string;
  /** version 1 bundles: the thumbnail's path in the bundle; version 2: null, the worker sends the bytes */
  thumbnail: string | null;
  patient?: string;
  age?: number | null;
  sex?: string;
  view?: string;
  /** DICOM facet values by facet name (only the known ones) */
  facets?: Record<string, string>;
}

/** How much of the collection a search covered: fewer rows than `of` while shards are still loading. */
export interface Coverage {
  searched: number;
  of: number;
}

/** What a search ranks among (worker/collection/collection.ts rowFilter); an empty list or an unset field does not
 * filter. */
export interface Filters {
  /** labels a row must have at least one of (any of) */
  include: string[];
  /** labels a row must have every one of (all of) */
  all?: string[];
  /** labels a row must have none of */
  exclude: string[];
  minScore: number;
  /** per facet name, the values a row may have (lib/contracts/facets.ts); facets with an empty list do not filter */
  facets?: FacetSelection;
  /** age in years, bounds included; a set bound leaves out rows of unknown age */
  ageMin?: number;
  ageMax?: number;
  /** the sex values a row may have (the collection's own strings, e.g. "F", "M") */
  sex?: string[];
  /** the view positions a row may have (e.g. "PA", "AP") */
  view?: string[];
  /** row queries: leave out the other images of this row's patient (the row itself stays; unknown patient: none) */
  exceptPatientOf?: number;
}

export interface HitOut {
  id: number;
  score: number;
}

export type Request =
  | { type: "init"; base: string }
  | { type: "search"; id: number; query: string; k: number; filters?: Filters }
  | { type: "searchImage"; id: number; rgba: ArrayBuffer; width: number; height: number; k: number; filters?: Filters }
  | { type: "searchRow"; id: number; row: number; k: number; filters?: Filters }
  /** Find Similar: the precomputed neighbours, or a live ranking when the filters (or the patient rule) need one */
  | { type: "similar"; id: number; row: number; k?: number; filters?: Filters }
  /** a composed or refined query (QuerySpec) */
  | { type: "compose"; id: number; spec: QuerySpec; k: number; filters?: Filters }
  /** thumbnails by row or file name (version 2 bundles keep them in packs) */
  | { type: "thumbs"; id: number; keys: (number | string)[] }
  | { type: "bench"; id: number; runs: number; query: string }
  /** the user is about to search with an image: load and warm the vision model now */
  | { type: "prepareVision" };

export interface Timing {
  tokenizeMs?: number;
  /** the model run, including any wait for the run before it (a warm-up run or an earlier query) */
  embedMs?: number;
  /** the part of embedMs spent waiting for the run before it */
  waitMs?: number;
  /** image searches: waiting for the vision model to download and load (not counted in totalMs) */
  loadMs?: number;
  rankMs: number;
  preprocessMs?: number;
  totalMs: number;
}

export type Reply =
  | { type: "progress"; info: ProgressInfo }
  /** the two contracts, and the files the first search needs with their sizes (before any byte moves) */
  | { type: "contracts"; info: IndexInfo; manifest: Manifest; plan: Record<string, number> }
  | { type: "ready"; info: ReadyInfo }
  /** more rows searchable (a version 2 shard arrived) */
  | { type: "loaded"; rows: number; count: number }
  | { type: "thumbs"; id: number; images: (Uint8Array | null)[] }
  | { type: "visionReady" }
  | {
      type: "results";
      id: number;
      path: SearchPath;
      matched?: string;
      hits: HitOut[];
      /** what the page shows of each hit, in the same order */
      rows: RowInfo[];
      /** set when the ranking covered part of the collection (shards still loading) */
      coverage?: Coverage;
      timing: Timing;
      tokens?: number;
      /** whether the model's warm-up had finished when this query ran */
      warm?: boolean;
      /** the query embedding of live and image searches, for parity checks */
      query?: number[];
      /** composed queries: the marked rows, so the page can name them (a marked row may rank out of the list) */
      marked?: { id: number; filename: string }[];
    }
  | { type: "cancelled"; id: number }
  | { type: "error"; id?: number; message: string }
  | { type: "bench"; id: number; result: BenchResult };

export interface BenchStat {
  name: string;
  runs: number;
  medianMs: number;
  p95Ms: number;
  samplesMs: number[];
}

export interface BenchResult {
  threads: number;
  threadReason: ThreadReason;
  /** the warm-ups done when the benchmark ran */
  warm: WarmInfo[];
  crossOriginIsolated: boolean;
  userAgent: string;
  count: number;
  query: string;
  stats: BenchStat[];
}
