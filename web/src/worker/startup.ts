// Start-up: the contracts, then the collection, the vocabulary and the text model side by side; "ready"; then the
// text model's warm-up and, when the page asks, the vision model.
import type * as ortTypes from "onnxruntime-web/wasm";
import { bundleFile, loadContracts, modelFile, type IndexInfo, type Manifest } from "../lib/contracts/bundle";
import type { ReadyInfo, StartupStep } from "../lib/protocol/messages";
import { fetchVerified, pruneKept, readCached, readSetting, writeSetting } from "../lib/storage/cache";
import type { FileSpec } from "../lib/storage/fileSpec";
import { configureParts } from "../lib/storage/parts";
import { CollectionV1, type Collection } from "./collection/collection";
import { CollectionV2 } from "./collection/collectionV2";
import { configureOrt, createSession, embedPixels, embedText, RUNTIME } from "./model/encoder";
import { addSample, calibrationKey, chooseThreads, parseRecord, threadCandidates, type ThreadChoice } from "./model/threads";
import { parseVocab, WordPieceTokenizer } from "./model/tokenizer";
import { steadyMs, TEXT_WARMUP, warmUp } from "./model/warmup";
import { fail, post, progress } from "./reply";
import type { Loaded, WorkerState } from "./state";

// A typical query (12 tokens): the warm-up's input, and the run time the thread-count calibration compares.
const WARM_QUERY = "no acute cardiopulmonary process, the lungs are clear bilaterally";

function collectionClass(info: IndexInfo) {
  return info.format_version === 2 ? CollectionV2 : CollectionV1;
}

const epochNow = (): number => performance.timeOrigin + performance.now();
type Stamp = <T>(step: StartupStep) => (value: T) => T;

export async function init(w: WorkerState, base: string): Promise<Loaded> {
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
  const s: Loaded = { base, info, manifest, collection, tokenizer, text, threads, calibration };
  post({ type: "ready", info: readyInfo(s, { ...startup, ready: epochNow() } as Record<StartupStep, number>) });
  // after "ready", never before it; in a later task, so searches that waited for `ready` take the queue first
  setTimeout(() => void warmText(w, s).catch(() => undefined), 0);
  void pruneKept(keptFiles(base, info, manifest)).catch(() => undefined);
  collection.loadRest(progress, (rows) => post({ type: "loaded", rows, count: info.count })).catch((e: unknown) => fail(e));
  return s;
}

const cores = (): number => navigator.hardwareConcurrency || 1;

/** The WASM thread count for this visit, from this device's calibration record (model/threads.ts). */
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

function readyInfo(s: Loaded, startup: Record<StartupStep, number>): ReadyInfo {
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

/** Dummy runs while the user reads or types, until V8 has compiled the hot kernels (model/warmup.ts); then the
 * steady run time joins this device's thread-count calibration. Each run waits for real queries to go first. */
async function warmText(w: WorkerState, s: Loaded): Promise<void> {
  const ids = s.tokenizer.encode(WARM_QUERY);
  const t0 = performance.now();
  const samples = await warmUp(w.queue, () => embedText(s.text, ids));
  w.textWarm = true;
  const steady = steadyMs(samples);
  w.warmed.push({ model: "text", runs: samples.length, steadyMs: steady, ms: performance.now() - t0 });
  if (samples.length >= 2 * TEXT_WARMUP.window) {
    const record = parseRecord(await readSetting(s.calibration.url), s.calibration.key);
    await writeSetting(s.calibration.url, { key: s.calibration.key, record: addSample(record, s.threads.threads, steady) });
  }
}

export async function visionSession(w: WorkerState, s: Loaded): Promise<ortTypes.InferenceSession> {
  if (!w.vision) {
    const name = s.manifest.models.vision.int8;
    w.vision = fetchVerified(modelFile(s.base, s.manifest, name), progress(name)).then((b) => createSession(b, name));
    w.vision.then(() => post({ type: "visionReady" })).catch(() => (w.vision = null));
  }
  return w.vision;
}

/** The user showed they are about to search with an image (the upload button, a file dragged over the page):
 * download and load the vision model now and give it one dummy run, while they pick the file. Not done on every
 * visit: the model is a second download as large as the text model, for a feature many visits never use. */
export async function prepareVision(w: WorkerState): Promise<void> {
  const s = await w.ready!;
  const session = await visionSession(w, s);
  if (w.visionRuns > 0 || w.visionWarming) return;
  w.visionWarming = true;
  const size = s.manifest.preprocess.image_size;
  await w.queue.background(async () => {
    if (w.visionRuns > 0 || w.visionPending > 0) return; // a real image query is first: it is the warm-up
    const t = performance.now();
    await embedPixels(session, new Float32Array(3 * size * size), size);
    w.visionRuns += 1;
    const ms = performance.now() - t;
    w.warmed.push({ model: "vision", runs: 1, steadyMs: ms, ms });
  });
}
