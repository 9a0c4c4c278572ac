// The browser's text encoder on the command line: the site's own session code (src/worker/model/encoder.ts) and the
// same onnxruntime-web WASM build, so Python gets the browser's embeddings bit for bit (WASM arithmetic does not depend
// on the CPU; native onnxruntime's float kernels do, and INT8 activation rounding turns last-bit differences into
// INT8-noise-sized ones: docs/QUANTIZATION.md).
//
// Usage: node scripts/embed.mjs --model PATH/text.int8.onnx [--image-size N]
// stdin: one JSON array of token ids per line (or, with --image-size, one image per line: 3 x N x N float32
// little-endian pixels in base64); stdout: one line per input, the embedding's float32 bytes (little-endian) in
// base64, written as soon as it is computed, so one process serves many queries.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { importTs } from "./import-ts.mjs";

const USAGE = "usage: embed --model PATH [--image-size N]  (one JSON array of token ids, or base64 pixels, per line)";
const require_ = createRequire(import.meta.url);
// The WASM runtime the site ships (scripts/copy-ort.mjs copies its .wasm from this folder).
const ORT_NODE = pathToFileURL(require_.resolve("onnxruntime-web/wasm").replace(/[^/\\]+$/, "ort.wasm.min.mjs")).href;

function fail(message) {
  process.stderr.write(`embed: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  let model;
  let imageSize = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--model") model = argv[++i];
    else if (a === "--image-size") imageSize = Number(argv[++i]);
    else fail(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (!model) fail(`--model is required\n${USAGE}`);
  if (!Number.isInteger(imageSize) || imageSize < 0) fail(`--image-size must be a positive integer\n${USAGE}`);
  return { model, imageSize };
}

// The site's encoder, with onnxruntime-web pointed at the Node build of the same runtime (one module instance,
// shared with this script).
function loadEncoder() {
  const ortNode = {
    name: "ort-node",
    setup(b) {
      b.onResolve({ filter: /^onnxruntime-web(\/wasm)?$/ }, () => ({ path: ORT_NODE, external: true }));
    },
  };
  return importTs(new URL("../src/worker/model/encoder.ts", import.meta.url), [ortNode]);
}

async function main() {
  const { model, imageSize } = parseArgs(process.argv.slice(2));
  let bytes;
  try {
    bytes = new Uint8Array(readFileSync(model));
  } catch (err) {
    fail(`${model}: cannot read model (${err.code ?? err.message})`);
  }
  const ort = await import(ORT_NODE);
  ort.env.wasm.numThreads = 1; // results do not depend on the thread count; Node's threaded start needs fetch
  ort.env.logLevel = "error";
  const { createSession, embedText, embedPixels } = await loadEncoder();
  let session;
  try {
    session = await createSession(bytes, model);
  } catch (err) {
    fail(err.message);
  }
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    if (imageSize > 0) {
      const raw = Buffer.from(line, "base64");
      if (raw.byteLength !== 3 * imageSize * imageSize * 4) fail(`stdin: an image of ${raw.byteLength} bytes, expected 3 x ${imageSize} x ${imageSize} float32`);
      const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const emb = await embedPixels(session, pixels, imageSize);
      process.stdout.write(`${Buffer.from(emb.buffer, emb.byteOffset, emb.byteLength).toString("base64")}\n`);
      continue;
    }
    let ids;
    try {
      ids = JSON.parse(line);
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every(Number.isSafeInteger)) throw new Error("not ids");
    } catch {
      fail(`stdin: expected a JSON array of token ids, got ${JSON.stringify(line.slice(0, 80))}`);
    }
    const emb = await embedText(session, ids);
    process.stdout.write(`${Buffer.from(emb.buffer, emb.byteOffset, emb.byteLength).toString("base64")}\n`);
  }
}

await main();
