// The Benchmark page's request: tokenizing, the text model, ranking and the vision model, timed run by run.
import type * as ortTypes from "onnxruntime-web/wasm";
import type { BenchStat } from "../lib/protocol/messages";
import { embedPixels, embedText } from "./model/encoder";
import { pixelsFor, rank } from "./queries";
import { post } from "./reply";
import type { Loaded, WorkerState } from "./state";
import { visionSession } from "./startup";

function stat(name: string, samples: number[]): BenchStat {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { name, runs: samples.length, medianMs: at(0.5), p95Ms: at(0.95), samplesMs: samples };
}

export async function bench(w: WorkerState, id: number, runs: number, query: string): Promise<void> {
  const s = await w.ready!;
  const session = await visionSession(w, s);
  await w.queue.run(() => benchRuns(w, s, session, id, runs, query));
}

async function benchRuns(w: WorkerState, s: Loaded, session: ortTypes.InferenceSession, id: number, runs: number, query: string) {
  const tok: number[] = [];
  const emb: number[] = [];
  const rk: number[] = [];
  const img: number[] = [];
  const size = s.manifest.preprocess.image_size;
  const synthetic = new Uint8Array(1024 * 1024 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 2654435761) >>> 24));
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    const ids = s.tokenizer.encode(query);
    tok.push(performance.now() - t);
    t = performance.now();
    const q = await embedText(s.text, ids);
    emb.push(performance.now() - t);
    t = performance.now();
    rank(s, q, 10);
    rk.push(performance.now() - t);
    t = performance.now();
    await embedPixels(session, pixelsFor(s, synthetic.buffer, 1024, 1024), size);
    img.push(performance.now() - t);
  }
  post({
    type: "bench",
    id,
    result: {
      threads: s.threads.threads,
      threadReason: s.threads.reason,
      warm: [...w.warmed],
      crossOriginIsolated: typeof crossOriginIsolated !== "undefined" && crossOriginIsolated,
      userAgent: navigator.userAgent,
      count: s.info.count,
      query,
      stats: [
        stat("tokenize", tok),
        stat("text embedding (INT8)", emb),
        stat(`ranking (${s.info.count} x ${s.info.dim}, top 10)`, rk),
        stat("image preprocess + embedding (INT8, 1024 x 1024)", img),
      ],
    },
  });
}
