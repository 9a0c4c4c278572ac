// The worker protocol. Every request carries an id; replies name it. A newer search supersedes older ones.

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
  threads: number;
  fallbackQueries: string[];
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
  | { type: "bench"; id: number; runs: number; query: string };

export interface Timing {
  tokenizeMs?: number;
  embedMs?: number;
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
  crossOriginIsolated: boolean;
  userAgent: string;
  count: number;
  query: string;
  stats: BenchStat[];
}
