// The worker protocol. Every request carries an id; replies name it. A newer search supersedes older ones.
import type { ThreadReason } from "./threads";

export interface ProgressInfo {
  file: string;
  loaded: number;
  total: number;
  fromCache: boolean;
}

export interface ReadyInfo {
  count: number;
  dim: number;
  randomWeights: boolean;
  modelTitle: string;
  /** WASM threads in use, and why (worker/threads.ts) */
  threads: number;
  threadReason: ThreadReason;
  fallbackQueries: string[];
}

/** A model's warm-up finished: `runs` dummy runs in `ms`, the last ones taking `steadyMs` each. */
export interface WarmInfo {
  model: "text" | "vision";
  runs: number;
  steadyMs: number;
  ms: number;
}

export type SearchPath = "exact" | "fuzzy" | "live" | "image" | "row";

export interface Filters {
  include: string[];
  exclude: string[];
  minScore: number;
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
  | { type: "ready"; info: ReadyInfo }
  | { type: "visionReady" }
  | {
      type: "results";
      id: number;
      path: SearchPath;
      matched?: string;
      hits: HitOut[];
      timing: Timing;
      tokens?: number;
      /** whether the model's warm-up had finished when this query ran */
      warm?: boolean;
      /** the query embedding of live and image searches, for parity checks */
      query?: number[];
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
