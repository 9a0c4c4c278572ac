// How many WASM threads the search worker uses: measured on this device, not assumed from cross-origin isolation.
// onnxruntime-web reads ort.env.wasm.numThreads once per worker, before the first session, so a page cannot try
// two counts side by side. Instead every visit records the steady text-model run time its warm-up measured at its
// count (a few samples per count, kept in Cache Storage under a key naming the model, the core count and the
// runtime); a visit uses the first count not measured yet, then the measured best. More threads must be clearly
// faster (MIN_GAIN) to be chosen: extra threads also compete with the page, the compositor and the rest of the
// device. On the 2-core test machine, before warm-up existed, the site ran 2 threads at 2-3x the 1-thread time.
import type { ThreadReason } from "../../lib/protocol/messages";
import { median } from "./warmup";

export interface ThreadRecord {
  /** steady run time (ms) of the warm-up query, the last few visits, by thread count */
  steadyMs: Record<string, number[]>;
}

export interface ThreadChoice {
  threads: number;
  reason: ThreadReason;
}

export const KEEP = 3;
export const MIN_GAIN = 0.1;

/** The counts worth measuring: 1 without cross-origin isolation (no SharedArrayBuffer), else 1, 2, 4 up to the cores. */
export function threadCandidates(cores: number, isolated: boolean): number[] {
  if (!isolated || !(cores >= 2)) return [1];
  return [1, 2, 4].filter((n) => n <= cores);
}

function measured(record: ThreadRecord | null, n: number): number | undefined {
  const xs = record?.steadyMs[String(n)];
  return xs && xs.length > 0 ? median(xs) : undefined;
}

export function chooseThreads(candidates: readonly number[], record: ThreadRecord | null): ThreadChoice {
  if (candidates.length <= 1) return { threads: candidates[0] ?? 1, reason: "single" };
  const untried = candidates.find((n) => measured(record, n) === undefined);
  if (untried !== undefined) return { threads: untried, reason: untried === candidates[0] ? "default" : "explore" };
  let best = candidates[0]!;
  for (const n of candidates.slice(1)) if (measured(record, n)! < measured(record, best)! * (1 - MIN_GAIN)) best = n;
  return { threads: best, reason: "measured" };
}

export function addSample(record: ThreadRecord | null, threads: number, ms: number, keep = KEEP): ThreadRecord {
  const steadyMs = { ...(record?.steadyMs ?? {}) };
  if (Number.isFinite(ms) && ms > 0) steadyMs[String(threads)] = [...(steadyMs[String(threads)] ?? []), ms].slice(-keep);
  return { steadyMs };
}

/** A stored record, or null when it is missing, damaged or for another model, device or runtime. */
export function parseRecord(stored: unknown, key: string): ThreadRecord | null {
  if (typeof stored !== "object" || stored === null) return null;
  const { key: k, record } = stored as { key?: unknown; record?: { steadyMs?: unknown } };
  if (k !== key || typeof record?.steadyMs !== "object" || record.steadyMs === null) return null;
  const steadyMs: Record<string, number[]> = {};
  for (const [n, xs] of Object.entries(record.steadyMs)) {
    if (!/^[1-9][0-9]*$/.test(n) || !Array.isArray(xs)) continue;
    const ok = xs.filter((x): x is number => typeof x === "number" && Number.isFinite(x) && x > 0);
    if (ok.length > 0) steadyMs[n] = ok.slice(-KEEP);
  }
  return { steadyMs };
}

export function calibrationKey(textModelSha256: string, cores: number, runtime: string): string {
  return `${textModelSha256}|cores=${cores}|${runtime}`;
}
