// The search worker: owns the tokenizer, the ONNX sessions and the embeddings; the page only renders.
import type * as ortTypes from "onnxruntime-web/wasm";
import { bundleFile, loadContracts, modelFile, type IndexInfo, type Manifest } from "../lib/bundle";
import { fetchVerified, readSetting, writeSetting } from "../lib/cache";
import { configureOrt, createSession, embedPixels, embedText, RUNTIME } from "./encoder";
import type { BenchStat, Filters, HitOut, Reply, Request, SearchPath, Timing, WarmInfo } from "./messages";
import { centerCrop, preprocess, resizeBicubic, rgbaToRgb, shorterSideSize } from "./preprocess";
import { matchFallback, type FallbackEntry } from "./queryMatch";
import { createScorer, topK, type Scorer } from "./ranking";
import { RunQueue } from "./runQueue";
import { addSample, calibrationKey, chooseThreads, parseRecord, threadCandidates, type ThreadChoice } from "./threads";
import { parseVocab, WordPieceTokenizer } from "./tokenizer";
import { steadyMs, TEXT_WARMUP, warmUp } from "./warmup";

interface State {
  base: string;
  info: IndexInfo;
  manifest: Manifest;
  emb: Float32Array;
  labels: string[][];
  fallback: FallbackEntry[];
  tokenizer: WordPieceTokenizer;
  text: ortTypes.InferenceSession;
  scorer: Scorer;
  threads: ThreadChoice;
  calibration: { url: string; key: string };
}

// A typical query (12 tokens): the warm-up's input, and the run time the thread-count calibration compares.
const WARM_QUERY = "no acute cardiopulmonary process, the lungs are clear bilaterally";

const post = (r: Reply, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(r, transfer);
let ready: Promise<State> | null = null;
let vision: Promise<ortTypes.InferenceSession> | null = null;
let latest = 0;
// every model run goes through this queue: real queries first, warm-up runs in the gaps (worker/runQueue.ts)
const queue = new RunQueue();
let textWarm = false;
let visionRuns = 0;
let visionWarming = false;
let visionPending = 0; // image searches waiting for the vision model, preprocessing or running
const warmed: WarmInfo[] = []; // reported by the Benchmark page

function progress(file: string) {
  return (loaded: number, total: number, fromCache: boolean) => post({ type: "progress", info: { file, loaded, total, fromCache } });
}

async function init(base: string): Promise<State> {
  const { info, manifest } = await loadContracts(base);
  const embFile = bundleFile(base, info, "embeddings.bin");
  const textName = manifest.models.text.int8;
  const textSpec = modelFile(base, manifest, textName);
  const cores = navigator.hardwareConcurrency || 1;
  const isolated = typeof crossOriginIsolated !== "undefined" && crossOriginIsolated;
  const calibration = { url: new URL("medmir-calibration.json", base).href, key: calibrationKey(textSpec.sha256, cores, RUNTIME) };
  // total sizes are known before any byte moves: the page shows them in its progress bar
  const [stored, embBytes, fallbackBytes, metaBytes, vocabBytes, textBytes] = await Promise.all([
    readSetting(calibration.url),
    fetchVerified(embFile, progress("embeddings.bin")),
    fetchVerified(bundleFile(base, info, "fallback_results.json"), progress("fallback_results.json")),
    fetchVerified(bundleFile(base, info, "metadata.json"), progress("metadata.json")),
    fetchVerified(modelFile(base, manifest, manifest.tokenizer.vocab), progress(manifest.tokenizer.vocab)),
    fetchVerified(textSpec, progress(textName)),
  ]);
  const choice = chooseThreads(threadCandidates(cores, isolated), parseRecord(stored, calibration.key));
  const threads = { ...choice, threads: configureOrt(base, choice.threads) };
  const scorer = createScorer(new Float32Array(embBytes.buffer, embBytes.byteOffset, info.count * info.dim), info.dim);
  const emb = scorer.rows; // with SIMD, the copy in WebAssembly memory; the downloaded one can be collected
  const fallbackDoc = JSON.parse(new TextDecoder().decode(fallbackBytes)) as { queries: FallbackEntry[] };
  const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as { images: { labels: string[] }[] };
  if (meta.images.length !== info.count) {
    throw new Error(`metadata.json: ${meta.images.length} entries, index_info.json says ${info.count}`);
  }
  const tokenizer = new WordPieceTokenizer(parseVocab(new TextDecoder().decode(vocabBytes)), manifest.tokenizer);
  const text = await createSession(textBytes, textName);
  const state: State = {
    base,
    info,
    manifest,
    emb,
    labels: meta.images.map((m) => m.labels),
    fallback: fallbackDoc.queries,
    tokenizer,
    text,
    scorer,
    threads,
    calibration,
  };
  post({
    type: "ready",
    info: {
      count: info.count,
      dim: info.dim,
      randomWeights: Boolean(info.random_weights || manifest.model.random_weights),
      modelTitle: manifest.model.title,
      threads: threads.threads,
      threadReason: threads.reason,
      fallbackQueries: fallbackDoc.queries.map((q) => q.query),
    },
  });
  // after "ready", never before it; in a later task, so searches that waited for `ready` take the queue first
  setTimeout(() => void warmText(state).catch(() => undefined), 0);
  return state;
}

/** Dummy runs while the user reads or types, until V8 has compiled the hot kernels (worker/warmup.ts); then the
 * steady run time joins this device's thread-count calibration. Each run waits for real queries to go first. */
async function warmText(s: State): Promise<void> {
  const ids = s.tokenizer.encode(WARM_QUERY);
  const t0 = performance.now();
  const samples = await warmUp(queue, () => embedText(s.text, ids));
  textWarm = true;
  const steady = steadyMs(samples);
  warmed.push({ model: "text", runs: samples.length, steadyMs: steady, ms: performance.now() - t0 });
  if (samples.length >= 2 * TEXT_WARMUP.window) {
    const record = parseRecord(await readSetting(s.calibration.url), s.calibration.key);
    await writeSetting(s.calibration.url, { key: s.calibration.key, record: addSample(record, s.threads.threads, steady) });
  }
}

async function visionSession(s: State): Promise<ortTypes.InferenceSession> {
  if (!vision) {
    const name = s.manifest.models.vision.int8;
    vision = fetchVerified(modelFile(s.base, s.manifest, name), progress(name)).then((b) => createSession(b, name));
    vision.then(() => post({ type: "visionReady" })).catch(() => (vision = null));
  }
  return vision;
}

/** The user showed they are about to search with an image (the upload button, a file dragged over the page):
 * download and load the vision model now and give it one dummy run, while they pick the file. Not done on every
 * visit: the model is a second download as large as the text model, for a feature many visits never use. */
async function prepareVision(): Promise<void> {
  const s = await ready!;
  const session = await visionSession(s);
  if (visionRuns > 0 || visionWarming) return;
  visionWarming = true;
  const size = s.manifest.preprocess.image_size;
  await queue.background(async () => {
    if (visionRuns > 0 || visionPending > 0) return; // a real image query is first: it is the warm-up
    const t = performance.now();
    await embedPixels(session, new Float32Array(3 * size * size), size);
    visionRuns += 1;
    const ms = performance.now() - t;
    warmed.push({ model: "vision", runs: 1, steadyMs: ms, ms });
  });
}

function acceptor(s: State, f?: Filters): ((row: number) => boolean) | undefined {
  if (!f || (f.include.length === 0 && f.exclude.length === 0)) return undefined;
  const inc = new Set(f.include);
  const exc = new Set(f.exclude);
  return (row) => {
    const labels = s.labels[row] ?? [];
    if (inc.size && !labels.some((l) => inc.has(l))) return false;
    return !labels.some((l) => exc.has(l));
  };
}

function rank(s: State, q: Float32Array, k: number, f?: Filters): HitOut[] {
  return topK(s.scorer.score(q), k, acceptor(s, f), f?.minScore ?? -Infinity);
}

async function search(id: number, query: string, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  const t0 = performance.now();
  const plain = !f || (f.include.length === 0 && f.exclude.length === 0 && f.minScore <= -1);
  const match = plain && k <= 10 ? matchFallback(query, s.fallback) : null;
  if (match) {
    const e = match.entry;
    const hits = e.ids.slice(0, k).map((row, i) => ({ id: row, score: e.scores[i]! }));
    const totalMs = performance.now() - t0;
    post({ type: "results", id, path: match.kind, matched: e.query, hits, timing: { rankMs: 0, totalMs } });
    return;
  }
  const ids = s.tokenizer.encode(query);
  const t1 = performance.now();
  let started = t1;
  const warm = textWarm;
  const q = await queue.run(async () => {
    if (id !== latest) return null; // superseded while it waited: never run
    started = performance.now();
    return embedText(s.text, ids);
  });
  const t2 = performance.now();
  if (!q || id !== latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const timing: Timing = { tokenizeMs: t1 - t0, embedMs: t2 - t1, waitMs: started - t1, rankMs: t3 - t2, totalMs: t3 - t0 };
  post({ type: "results", id, path: "live", hits, timing, tokens: ids.length, warm, query: Array.from(q) });
}

function pixelsFor(s: State, rgba: ArrayBuffer, width: number, height: number): Float32Array {
  const size = s.manifest.preprocess.image_size;
  const rgb = rgbaToRgb(new Uint8Array(rgba), width, height);
  const [w, h] = shorterSideSize(width, height, size);
  return preprocess(centerCrop(resizeBicubic(rgb, w, h), size), s.manifest.preprocess);
}

async function searchImage(id: number, rgba: ArrayBuffer, width: number, height: number, k: number, f?: Filters) {
  visionPending += 1;
  try {
    await imageQuery(id, rgba, width, height, k, f);
  } finally {
    visionPending -= 1;
  }
}

async function imageQuery(id: number, rgba: ArrayBuffer, width: number, height: number, k: number, f?: Filters) {
  const s = await ready!;
  const tl = performance.now();
  const session = await visionSession(s);
  const t0 = performance.now();
  const pixels = pixelsFor(s, rgba, width, height);
  const t1 = performance.now();
  let started = t1;
  const warm = visionRuns > 0;
  const q = await queue.run(async () => {
    if (id !== latest) return null;
    started = performance.now();
    const out = await embedPixels(session, pixels, s.manifest.preprocess.image_size);
    visionRuns += 1;
    return out;
  });
  const t2 = performance.now();
  if (!q || id !== latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const path: SearchPath = "image";
  const timing = { loadMs: t0 - tl, preprocessMs: t1 - t0, embedMs: t2 - t1, waitMs: started - t1, rankMs: t3 - t2, totalMs: t3 - t0 };
  post({ type: "results", id, path, hits, timing, warm, query: Array.from(q) });
}

async function searchRow(id: number, row: number, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  if (!Number.isInteger(row) || row < 0 || row >= s.info.count) throw new Error(`no image with id ${row}`);
  const t0 = performance.now();
  const q = s.emb.slice(row * s.info.dim, (row + 1) * s.info.dim);
  const hits = rank(s, q, k, f);
  post({ type: "results", id, path: "row", hits, timing: { rankMs: performance.now() - t0, totalMs: performance.now() - t0 } });
}

function stat(name: string, samples: number[]): BenchStat {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { name, runs: samples.length, medianMs: at(0.5), p95Ms: at(0.95), samplesMs: samples };
}

async function bench(id: number, runs: number, query: string): Promise<void> {
  const s = await ready!;
  const session = await visionSession(s);
  await queue.run(() => benchRuns(s, session, id, runs, query));
}

async function benchRuns(s: State, session: ortTypes.InferenceSession, id: number, runs: number, query: string) {
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
      warm: [...warmed],
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

function fail(e: unknown, id?: number): void {
  post({ type: "error", id, message: e instanceof Error ? e.message : String(e) });
}

// onnxruntime-web's own pthread workers load this same script under the name "em-pthread*": they must not take
// over onmessage, or threaded startup hangs.
if (!(self.name ?? "").startsWith("em-pthread")) {
  self.onmessage = (ev: MessageEvent<Request>) => {
    const m = ev.data;
    if (m.type === "init") {
      ready ??= init(m.base);
      ready.catch((e: unknown) => fail(e));
      return;
    }
    if (!ready) return fail(new Error("the worker was not initialised"), "id" in m ? m.id : undefined);
    if (m.type === "search") {
      latest = m.id;
      search(m.id, m.query, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "searchImage") {
      latest = m.id;
      searchImage(m.id, m.rgba, m.width, m.height, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "searchRow") {
      latest = m.id;
      searchRow(m.id, m.row, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "prepareVision") {
      prepareVision().catch(() => undefined); // a real image search reports any failure
    } else if (m.type === "bench") {
      bench(m.id, m.runs, m.query).catch((e: unknown) => fail(e, m.id));
    }
  };
}
