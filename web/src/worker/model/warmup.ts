// When a session counts as warm. A new page runs onnxruntime-web's kernels as baseline (Liftoff) WebAssembly until
// V8 has compiled the hot ones with TurboFan in the background: measured in Chromium on the 2-core test machine
// (docs/PERFORMANCE.md), the INT8 text model's first run takes ~5x its steady time, 1 thread settles after ~5 runs
// and 2 threads after ~20 (the compiler competes with both threads for 2 cores), often on a plateau at ~2x the
// steady time first. So a flat stretch alone does not mean warm: the warm-up runs a minimum number of runs, then
// stops once the last `window` runs are no faster than the `window` before them.
import type { RunQueue } from "./runQueue";

export interface WarmPolicy {
  /** runs before the stop rule applies (covers the Liftoff plateau) */
  minRuns: number;
  maxRuns: number;
  /** stop when the last window's median is at least `settled` x the previous window's */
  window: number;
  settled: number;
  /** wall-clock cap, so a busy device does not warm up for ever */
  maxMs: number;
}

export const TEXT_WARMUP: WarmPolicy = { minRuns: 16, maxRuns: 60, window: 5, settled: 0.92, maxMs: 15_000 };

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Whether the warm-up can stop, given the run times so far (ms, in order) and the time spent. */
export function warmedUp(samples: readonly number[], elapsedMs: number, p: WarmPolicy = TEXT_WARMUP): boolean {
  if (samples.length >= p.maxRuns || elapsedMs >= p.maxMs) return true;
  if (samples.length < Math.max(p.minRuns, 2 * p.window)) return false;
  const last = median(samples.slice(-p.window));
  const before = median(samples.slice(-2 * p.window, -p.window));
  return last >= p.settled * before;
}

/** The steady run time: the median of the last window (what the thread-count calibration compares). */
export function steadyMs(samples: readonly number[], p: WarmPolicy = TEXT_WARMUP): number {
  return median(samples.slice(-p.window));
}

/** Runs `run` as background jobs of `queue` until `warmedUp`; returns the run times (ms). Between runs it returns
 * to the event loop: onnxruntime-web's WASM run resolves without doing so, and a loop of awaited runs alone would
 * keep a real query's message waiting until the whole warm-up ended. */
export async function warmUp(
  queue: RunQueue,
  run: () => Promise<unknown>,
  p: WarmPolicy = TEXT_WARMUP,
  clock: () => number = () => performance.now(),
): Promise<number[]> {
  const samples: number[] = [];
  const t0 = clock();
  while (!warmedUp(samples, clock() - t0, p)) {
    await queue.background(async () => {
      const t = clock();
      await run();
      samples.push(clock() - t);
    });
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return samples;
}
