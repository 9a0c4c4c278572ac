// Everything the search worker holds between messages, in one object: the handlers (startup.ts, queries.ts,
// bench.ts) are functions of it, so what a message can change is in one place.
import type * as ortTypes from "onnxruntime-web/wasm";
import type { IndexInfo, Manifest } from "../lib/contracts/bundle";
import type { WarmInfo } from "../lib/protocol/messages";
import type { Collection } from "./collection/collection";
import { RunQueue } from "./model/runQueue";
import type { ThreadChoice } from "./model/threads";
import type { WordPieceTokenizer } from "./model/tokenizer";

/** What start-up loaded: the contracts, the collection, the tokenizer, the text model and its thread count. */
export interface Loaded {
  base: string;
  info: IndexInfo;
  manifest: Manifest;
  collection: Collection;
  tokenizer: WordPieceTokenizer;
  text: ortTypes.InferenceSession;
  threads: ThreadChoice;
  calibration: { url: string; key: string };
}

export class WorkerState {
  /** start-up, begun by the "init" message; every other request waits for it */
  ready: Promise<Loaded> | null = null;
  /** the vision model, loaded on the first image search (or a sign of one); null until then or after a failure */
  vision: Promise<ortTypes.InferenceSession> | null = null;
  /** the id of the newest query: an older one still waiting is superseded (never run, answered "cancelled") */
  latest = 0;
  /** every model run goes through this queue: real queries first, warm-up runs in the gaps (model/runQueue.ts) */
  readonly queue = new RunQueue();
  textWarm = false;
  visionRuns = 0;
  visionWarming = false;
  /** image searches waiting for the vision model, preprocessing or running */
  visionPending = 0;
  /** the warm-ups done, reported by the Benchmark page */
  readonly warmed: WarmInfo[] = [];
  /** the embedding of the image last searched with (composed and refined queries start from it; never sent out) */
  lastImage: Float32Array | null = null;
  /** text embeddings of composed queries' parts, so refining a query by marks does not run the model again */
  readonly textVectors = new Map<string, Float32Array>();
}
