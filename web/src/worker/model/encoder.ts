// onnxruntime-web sessions for the pack's INT8 towers (WASM backend, self-hosted files, threads when isolated).
import * as ort from "onnxruntime-web/wasm";
import { weightsApart } from "./onnxWeights";

let configured = false;

/** Points onnxruntime-web at the site's own runtime files with `threads` WASM threads (worker/model/threads.ts
 * chooses). The count is global and read once, before the first session: later calls return the count in force. */
export function configureOrt(base: string, threads = 1): number {
  if (!configured) {
    // the version in the URL names the files' content: the service worker serves them from Cache Storage first
    // (web/public/sw.js), which lets Chromium keep their compiled code between visits
    const v = `?v=${encodeURIComponent(ort.env.versions.web ?? "0")}`;
    ort.env.wasm.wasmPaths = {
      mjs: new URL(`ort/ort-wasm-simd-threaded.mjs${v}`, base).href,
      wasm: new URL(`ort/ort-wasm-simd-threaded.wasm${v}`, base).href,
    };
    const isolated = typeof crossOriginIsolated !== "undefined" && crossOriginIsolated;
    ort.env.wasm.numThreads = isolated ? Math.max(1, Math.floor(threads)) : 1; // threads need SharedArrayBuffer
    ort.env.wasm.proxy = false;
    ort.env.logLevel = "error";
    configured = true;
  }
  return ort.env.wasm.numThreads ?? 1;
}

export const RUNTIME = `onnxruntime-web ${ort.env.versions.web ?? "?"} wasm`;

// "basic": measured side by side with "all" in Chromium (benchmarks/run.py), neither is consistently faster to
// create or to run on the INT8 text model (on 2 cores, whichever session runs second in a page is faster), so the
// level that does less work at load time. The first session of a page also pays onnxruntime-web's one-time WASM
// start-up, whatever the level.
export const GRAPH_OPTIMIZATION = "basic";

/** A session of the model; its weights go in as external data (worker/model/onnxWeights.ts: a third of the memory). */
export async function createSession(model: Uint8Array, name: string): Promise<ort.InferenceSession> {
  try {
    const split = weightsApart(model);
    const options: ort.InferenceSession.SessionOptions = { executionProviders: ["wasm"], graphOptimizationLevel: GRAPH_OPTIMIZATION };
    if (split) options.externalData = [{ path: split.location, data: model }];
    return await ort.InferenceSession.create(split ? split.graph : model, options);
  } catch (e) {
    throw new Error(`${name}: onnxruntime-web cannot load it (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** One row per run: INT8 dynamic quantization scales over the batch (see docs/FORMAT.md). */
export async function embedText(session: ort.InferenceSession, ids: number[]): Promise<Float32Array> {
  const input = new ort.Tensor("int64", BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]);
  const out = await session.run({ [session.inputNames[0]!]: input });
  const t = out[session.outputNames[0]!]!;
  return new Float32Array(t.data as Float32Array);
}

export async function embedPixels(session: ort.InferenceSession, pixels: Float32Array, size: number): Promise<Float32Array> {
  const input = new ort.Tensor("float32", pixels, [1, 3, size, size]);
  const out = await session.run({ [session.inputNames[0]!]: input });
  return new Float32Array(out[session.outputNames[0]!]!.data as Float32Array);
}
