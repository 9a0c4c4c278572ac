// The search worker: owns the tokenizer, the ONNX sessions and the embeddings; the page only renders.
import type * as ortTypes from "onnxruntime-web/wasm";
import { bundleFile, loadContracts, modelFile, type IndexInfo, type Manifest } from "../lib/bundle";
import { fetchVerified, pruneKept, readCached, readSetting, writeSetting, type FileSpec } from "../lib/cache";
import { configureParts } from "../lib/parts";
import { CollectionV1, hasFilters, neighborsAnswer, type Collection } from "./collection";
import { CollectionV2 } from "./collectionV2";
import { composeQuery } from "./compose";
import { configureOrt, createSession, embedPixels, embedText, RUNTIME } from "./encoder";
import type { BenchStat, Coverage, Filters, QuerySpec, ReadyInfo, Reply, Request, SearchPath, StartupStep, Timing, WarmInfo } from "./messages";
import { centerCrop, preprocess, resizeBicubic, rgbaToRgb, shorterSideSize } from "./preprocess";
import { matchFallback } from "./queryMatch";
import type { Hit } from "./ranking";
import { RunQueue } from "./runQueue";
import { addSample, calibrationKey, chooseThreads, parseRecord, threadCandidates, type ThreadChoice } from "./threads";
import { parseVocab, WordPieceTokenizer } from "./tokenizer";
import { steadyMs, TEXT_WARMUP, warmUp } from "./warmup";

interface State {
  base: string;
  info: IndexInfo;
  manifest: Manifest;
  collection: Collection;
  tokenizer: WordPieceTokenizer;
  text: ortTypes.InferenceSession;
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
// the embedding of the image last searched with (composed and refined queries start from it; it never leaves here)
let lastImage: Float32Array | null = null;
// text embeddings of composed queries' parts, so refining a query by marks does not run the model again
const textVectors = new Map<string, Float32Array>();
const TEXT_VECTORS_KEPT = 32;

function progress(file: string) {
  return (loaded: number, total: number, fromCache: boolean) => post({ type: "progress", info: { file, loaded, total, fromCache } });
}

function collectionClass(info: IndexInfo) {
  return info.format_version === 2 ? CollectionV2 : CollectionV1;
}

const epochNow = (): number => performance.timeOrigin + performance.now();
type Stamp = <T>(step: StartupStep) => (value: T) => T;

async function init(base: string): Promise<State> {
  const startup: Partial<Record<StartupStep, number>> = { init: epochNow() };
  const stamp: Stamp = (step) => (value) => ((startup[step] = epochNow()), value);
  configureParts(base);
  const { info, manifest } = await loadContracts(base).then(stamp("contracts"));
  const textSpec = modelFile(base, manifest, manifest.models.text.int8);
  const vocabSpec = modelFile(base, manifest, manifest.tokenizer.vocab);
  const plan = Object.fromEntries([
    ...collectionClass(info).FIRST_FILES.map((f) => [f, info.files[f]?.bytes ?? 0]),
    [vocabSpec.name, vocabSpec.bytes],
    [textSpec.name, textSpec.bytes],
  ]);
  post({ type: "contracts", info, manifest, plan });
  const calibration = { url: new URL("medmir-calibration.json", base).href, key: calibrationKey(textSpec.sha256, cores(), RUNTIME) };
  const threads = await threadCount(base, calibration);
  // A repeat visit reads the model from the device's store before the collection's shards: read side by side, both
  // took as long as the two one after the other, and the model is the longer path (its session comes after it).
  const cachedText = await readCached(textSpec);
  const [collection, vocabBytes, text] = await Promise.all([
    collectionClass(info).open(base, info, progress).then(stamp<Collection>("collection")),
    fetchVerified(vocabSpec, progress(vocabSpec.name)),
    textSession(textSpec, cachedText, stamp),
  ]);
  const tokenizer = new WordPieceTokenizer(parseVocab(new TextDecoder().decode(vocabBytes)), manifest.tokenizer);
  const state: State = { base, info, manifest, collection, tokenizer, text, threads, calibration };
  post({ type: "ready", info: readyInfo(state, { ...startup, ready: epochNow() } as Record<StartupStep, number>) });
  // after "ready", never before it; in a later task, so searches that waited for `ready` take the queue first
  setTimeout(() => void warmText(state).catch(() => undefined), 0);
  void pruneKept(keptFiles(base, info, manifest)).catch(() => undefined);
  collection.loadRest(progress, (rows) => post({ type: "loaded", rows, count: info.count })).catch((e: unknown) => fail(e));
  return state;
}

const cores = (): number => navigator.hardwareConcurrency || 1;

/** The WASM thread count for this visit, from this device's calibration record (worker/threads.ts). */
async function threadCount(base: string, calibration: { url: string; key: string }): Promise<ThreadChoice> {
  const isolated = typeof crossOriginIsolated !== "undefined" && crossOriginIsolated;
  const choice = chooseThreads(threadCandidates(cores(), isolated), parseRecord(await readSetting(calibration.url), calibration.key));
  return { ...choice, threads: configureOrt(base, choice.threads) };
}

/** The text model's session, created as soon as its bytes are in (from the device's store, or downloaded). */
function textSession(spec: FileSpec, cached: Uint8Array | null, stamp: Stamp): Promise<ortTypes.InferenceSession> {
  if (cached) progress(spec.name)(spec.bytes, spec.bytes, true);
  return (cached ? Promise.resolve(cached) : fetchVerified(spec, progress(spec.name)))
    .then(stamp<Uint8Array>("textBytes"))
    .then((bytes) => createSession(bytes, spec.name))
    .then(stamp<ortTypes.InferenceSession>("textSession"));
}

function readyInfo(s: State, startup: Record<StartupStep, number>): ReadyInfo {
  const { info, manifest, collection } = s;
  return {
    count: info.count,
    loaded: collection.loaded(),
    dim: info.dim,
    randomWeights: Boolean(info.random_weights || manifest.model.random_weights),
    modelTitle: manifest.model.title,
    threads: s.threads.threads,
    threadReason: s.threads.reason,
    fallbackQueries: collection.fallback.map((q) => q.query),
    labels: collection.labelNames(),
    facets: collection.facetSummary(),
    counts: collection.counts(),
    kernel: collection.kernel,
    formatVersion: collection.version,
    startup,
  };
}

/** Every file this site may keep on the device: the rest (an earlier build's) is removed. */
function keptFiles(base: string, info: IndexInfo, manifest: Manifest): FileSpec[] {
  return [
    ...Object.keys(info.files).map((n) => bundleFile(base, info, n)),
    ...Object.keys(manifest.files).map((n) => modelFile(base, manifest, n)),
  ];
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

function rank(s: State, q: Float32Array, k: number, f?: Filters): Hit[] {
  return s.collection.rank(q, k, f);
}

/** Results with the rows the page shows; `coverage` when the search ranked a partial collection. */
function answer(s: State, r: Omit<Extract<Reply, { type: "results" }>, "type" | "rows" | "coverage">, ranked: boolean): void {
  const coverage: Coverage | undefined =
    ranked && s.collection.loaded() < s.collection.count ? { searched: s.collection.loaded(), of: s.collection.count } : undefined;
  post({ type: "results", ...r, rows: s.collection.rows(r.hits.map((h) => h.id)), coverage });
}

async function search(id: number, query: string, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  const t0 = performance.now();
  const plain = !hasFilters(f);
  const match = plain && k <= 10 ? matchFallback(query, s.collection.fallback) : null;
  if (match) {
    const e = match.entry;
    const hits = e.ids.slice(0, k).map((row, i) => ({ id: row, score: e.scores[i]! }));
    const totalMs = performance.now() - t0;
    answer(s, { id, path: match.kind, matched: e.query, hits, timing: { rankMs: 0, totalMs } }, false);
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
  answer(s, { id, path: "live", hits, timing, tokens: ids.length, warm, query: Array.from(q) }, true);
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
  lastImage = q;
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const path: SearchPath = "image";
  const timing = { loadMs: t0 - tl, preprocessMs: t1 - t0, embedMs: t2 - t1, waitMs: started - t1, rankMs: t3 - t2, totalMs: t3 - t0 };
  answer(s, { id, path, hits, timing, warm, query: Array.from(q) }, true);
}

async function searchRow(id: number, row: number, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  const t0 = performance.now();
  const q = await s.collection.vector(row);
  if (id !== latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k, f);
  const ms = performance.now() - t0;
  answer(s, { id, path: "row", hits, timing: { rankMs: ms, totalMs: ms } }, true);
}

/** A text's embedding for a composed query (kept for later ones); null when a newer query superseded this one. */
async function textVector(s: State, id: number, text: string): Promise<Float32Array | null> {
  const kept = textVectors.get(text);
  if (kept) return kept;
  const ids = s.tokenizer.encode(text);
  const v = await queue.run(async () => (id !== latest ? null : embedText(s.text, ids)));
  if (v) {
    textVectors.set(text, v);
    if (textVectors.size > TEXT_VECTORS_KEPT) textVectors.delete(textVectors.keys().next().value!);
  }
  return v;
}

/** A composed or refined query (worker/compose.ts): always live, never the precomputed results. */
async function compose(id: number, spec: QuerySpec, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  const t0 = performance.now();
  const b = spec.base;
  let base: Float32Array | null;
  if (b.kind === "text") base = await textVector(s, id, b.text);
  else if (b.kind === "row") base = await s.collection.vector(b.row);
  else if (lastImage) base = lastImage;
  else throw new Error("No image was searched with on this page: upload it again (your images stay on this device, so a link cannot carry them).");
  const minus: Float32Array[] = [];
  for (const t of b.kind === "text" ? spec.minus : []) {
    const v = base && (await textVector(s, id, t));
    if (v) minus.push(v);
  }
  const plus = spec.plus.trim() && b.kind !== "text" && base ? await textVector(s, id, spec.plus.trim()) : null;
  const t1 = performance.now();
  if (!base || id !== latest || (spec.plus.trim() && b.kind !== "text" && !plus)) return post({ type: "cancelled", id });
  const pos = await Promise.all(spec.pos.map((r) => s.collection.vector(r)));
  const neg = await Promise.all(spec.neg.map((r) => s.collection.vector(r)));
  if (id !== latest) return post({ type: "cancelled", id });
  const q = composeQuery({ base, minus, plus, pos, neg });
  const t2 = performance.now();
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const marks = [...spec.pos, ...spec.neg];
  const marked = s.collection.rows(marks).map((r, i) => ({ id: marks[i]!, filename: r.filename }));
  const path: SearchPath = marks.length ? "refined" : minus.length || plus ? "composed" : b.kind === "image" ? "image" : "row";
  const timing: Timing = { embedMs: t1 - t0, rankMs: t3 - t2, totalMs: t3 - t0 };
  answer(s, { id, path, hits, timing, query: Array.from(q), marked }, true);
}

/** Find Similar: the neighbours the bundle precomputed (exact over the whole collection, even while loading), unless
 * a filter is set or the patient rule would leave one of them out: then the row's embedding ranked live with the
 * filters, the row itself left out (as the neighbours leave it out). */
async function similar(id: number, row: number, k: number, f?: Filters): Promise<void> {
  const s = await ready!;
  const t0 = performance.now();
  const near = await s.collection.neighbors(row);
  if (id !== latest) return post({ type: "cancelled", id });
  if (neighborsAnswer(f, near, row, (a, b) => s.collection.samePatient(a, b))) {
    const ms = performance.now() - t0;
    return answer(s, { id, path: "neighbors", hits: near, timing: { rankMs: 0, totalMs: ms } }, false);
  }
  const q = await s.collection.vector(row);
  if (id !== latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k + 1, f).filter((h) => h.id !== row).slice(0, k);
  const ms = performance.now() - t0;
  answer(s, { id, path: "row", hits, timing: { rankMs: ms, totalMs: ms } }, true);
}

async function thumbs(id: number, keys: (number | string)[]): Promise<void> {
  const s = await ready!;
  const rows = keys.map((k) => (typeof k === "number" ? k : (s.collection.rowOf(k) ?? -1)));
  const known = rows.filter((r) => r >= 0 && r < s.collection.count);
  const bytes = await s.collection.thumbnails(known);
  const byRow = new Map(known.map((r, i) => [r, bytes[i] ?? null]));
  // copies: a part of a whole pack the reader keeps must not be transferred away
  const images = rows.map((r) => byRow.get(r)?.slice() ?? null);
  const transfer = images.flatMap((b) => (b ? [b.buffer as ArrayBuffer] : []));
  post({ type: "thumbs", id, images }, transfer);
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
    } else if (m.type === "compose") {
      latest = m.id;
      compose(m.id, m.spec, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "similar") {
      latest = m.id;
      similar(m.id, m.row, m.k ?? 10, m.filters).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "thumbs") {
      thumbs(m.id, m.keys).catch((e: unknown) => fail(e, m.id));
    } else if (m.type === "prepareVision") {
      prepareVision().catch(() => undefined); // a real image search reports any failure
    } else if (m.type === "bench") {
      bench(m.id, m.runs, m.query).catch((e: unknown) => fail(e, m.id));
    }
  };
}
