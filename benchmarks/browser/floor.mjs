// The WASM floor for benchmarks/run.py's user-path figures: the site's own encoder (web/src/worker/model/encoder.ts) and
// tokenizer with the same INT8 models on the same onnxruntime-web WASM build, in Node, 1 thread, warm: what the
// model itself costs on this CPU.
//
// The machine is shared and its load changes by the minute, so the floor is measured paired with the browser:
// userpath.mjs starts this as a server and, right after each query the site answered, asks for the same input
// here. Each request runs it once after the idle pause that preceded it (the user typing or picking a file, the
// "floor after idle": a CPU that sat idle or ran other processes meanwhile runs the next inference slower, in Node as
// in the browser), then `runs` times back to back, whose median is the floor.
//
// Usage: node floor.mjs CONFIG_JSON   {pack: DIR, runs: N, warmup: N, vision: bool}
// Prints "ready", then answers each stdin line ({"query": TEXT} or {"image": true}) with one JSON line:
// {tokens?, after_idle_ms, median_ms, samples_ms}.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const WEB = new URL("../../web/", import.meta.url);
const { importTs } = await import(new URL("scripts/import-ts.mjs", WEB).href);
const require_ = createRequire(new URL("package.json", WEB));
const ORT_NODE = pathToFileURL(require_.resolve("onnxruntime-web/wasm").replace(/[^/\\]+$/, "ort.wasm.min.mjs")).href;
const cfg = JSON.parse(process.argv[2]);

const ortNode = {
  name: "ort-node",
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-web(\/wasm)?$/ }, () => ({ path: ORT_NODE, external: true }));
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function measure(fn) {
  const after_idle_ms = await timed(fn);
  const samples = [];
  for (let i = 0; i < cfg.runs; i++) samples.push(await timed(fn));
  return { after_idle_ms, median_ms: median(samples), samples_ms: samples };
}

const ort = await import(ORT_NODE);
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const { createSession, embedText, embedPixels } = await importTs(new URL("src/worker/model/encoder.ts", WEB), [ortNode]);
const { WordPieceTokenizer, parseVocab } = await importTs(new URL("src/worker/model/tokenizer.ts", WEB));
const manifest = JSON.parse(readFileSync(join(cfg.pack, "manifest.json"), "utf8"));
const tok = new WordPieceTokenizer(parseVocab(readFileSync(join(cfg.pack, manifest.tokenizer.vocab), "utf8")), manifest.tokenizer);
const model = (name) => createSession(new Uint8Array(readFileSync(join(cfg.pack, manifest.models[name].int8))), name);
const text = await model("text");
const size = manifest.preprocess.image_size;
const vision = cfg.vision ? await model("vision") : null;
// the vision tower's cost does not depend on the pixels: a fixed input of the model's size
const pixels = Float32Array.from({ length: 3 * size * size }, (_, i) => Math.sin(i) * 1.5);
// warm: the first runs allocate and V8 replaces the baseline code of the hot kernels with optimised code
const warmIds = tok.encode("no acute cardiopulmonary process, the lungs are clear bilaterally");
for (let i = 0; i < cfg.warmup; i++) await embedText(text, warmIds);
for (let i = 0; vision && i < Math.min(3, cfg.warmup); i++) await embedPixels(vision, pixels, size);
process.stdout.write(`${JSON.stringify({ ready: true, runtime: `onnxruntime-web ${ort.env.versions.web} WASM in Node ${process.version}` })}\n`);

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  let out;
  if (req.image) {
    out = await measure(() => embedPixels(vision, pixels, size));
  } else {
    const ids = tok.encode(req.query);
    out = { tokens: ids.length, ...(await measure(() => embedText(text, ids))) };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
