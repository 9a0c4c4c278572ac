// Browser micro-benchmarks, driven by benchmarks/browser/run.mjs through window.medmirBench.
// Text models run on synthetic ids of a given length (the tokenizer is timed by the site's own Benchmark page).
import * as ort from "./ort.wasm.min.mjs";
import { weightsApart } from "./onnxWeights.mjs";
import { createScorer, scoreAll, topK } from "./ranking.mjs";

const params = new URLSearchParams(location.search);
ort.env.wasm.wasmPaths = new URL("../ort/", location.href).href;
ort.env.wasm.numThreads = Number(params.get("threads") || "1");
ort.env.logLevel = "error";

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { runs: s.length, median_ms: at(0.5), p95_ms: at(0.95), samples_ms: samples };
}

// as the site's search worker creates a session (web/src/worker/model/encoder.ts): the weights as external data
async function loadModel(url, level = "basic") {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const t = performance.now();
  const split = weightsApart(bytes);
  const options = { executionProviders: ["wasm"], graphOptimizationLevel: level };
  if (split) options.externalData = [{ path: split.location, data: bytes }];
  const session = await ort.InferenceSession.create(split ? split.graph : bytes, options);
  return { session, createMs: performance.now() - t };
}

function ids(tokens, padTo) {
  // [CLS] w ... w [SEP] then padding (id 0), as a real query of `tokens` tokens padded to `padTo`
  const row = [2];
  for (let i = 0; i < tokens - 2; i++) row.push(1000 + ((i * 7919) % 20000));
  row.push(3);
  while (row.length < padTo) row.push(0);
  return BigInt64Array.from(row, (v) => BigInt(v));
}

async function textLatency(session, tokens, padTo, runs, warmup) {
  const data = ids(tokens, Math.max(tokens, padTo));
  const input = new ort.Tensor("int64", data, [1, data.length]);
  const name = session.inputNames[0];
  for (let i = 0; i < warmup; i++) await session.run({ [name]: input });
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ [name]: input });
    samples.push(performance.now() - t);
  }
  return stats(samples);
}

// Every run from a new session's first, back to back: how long V8 runs onnxruntime-web's kernels as baseline
// WebAssembly before its optimising compiler has replaced them (call on a fresh browser: compiled code is shared).
async function series(session, tokens, runs) {
  const data = ids(tokens, tokens);
  const input = new ort.Tensor("int64", data, [1, data.length]);
  const name = session.inputNames[0];
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ [name]: input });
    samples.push(performance.now() - t);
  }
  return samples;
}

function unitRows(n, dim, seed) {
  const a = new Float32Array(n * dim);
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  for (let r = 0; r < n; r++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += a[r * dim + j] ** 2;
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) a[r * dim + j] /= norm;
  }
  return a;
}

function plainRank(emb, dim, q, k) {
  // the baseline: one score per row into a plain array, then a full sort
  const n = emb.length / dim;
  const scores = [];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += emb[i * dim + j] * q[j];
    scores.push({ id: i, score: s });
  }
  scores.sort((a, b) => b.score - a.score || a.id - b.id);
  return scores.slice(0, k);
}

async function ranking(n, dim, runs) {
  const emb = unitRows(n, dim, 1);
  const q = unitRows(1, dim, 2);
  const out = new Float64Array(n);
  const scorer = createScorer(emb, dim);
  const ours = [];
  const js = [];
  const plain = [];
  for (let r = 0; r < runs + 2; r++) {
    let t = performance.now();
    const a = topK(scorer.score(q), 10);
    const oursMs = performance.now() - t;
    t = performance.now();
    topK(scoreAll(emb, dim, q, out), 10);
    const jsMs = performance.now() - t;
    t = performance.now();
    const b = plainRank(emb, dim, q, 10);
    const plainMs = performance.now() - t;
    if (a.map((h) => h.id).join() !== b.map((h) => h.id).join()) throw new Error(`ranking disagrees at n=${n}`);
    if (r >= 2) {
      ours.push(oursMs);
      js.push(jsMs);
      plain.push(plainMs);
    }
  }
  return { n, dim, kernel: scorer.kind, ours: stats(ours), js_loop_partial_top_k: stats(js), plain_loop_full_sort: stats(plain) };
}

window.medmirBench = { loadModel, textLatency, series, ranking, crossOriginIsolated: () => self.crossOriginIsolated };
document.getElementById("status").textContent = "ready";
