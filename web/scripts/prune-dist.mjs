// Vite also emits onnxruntime-web's .wasm under assets/ (it follows the library's import.meta.url reference), but
// the worker loads the self-hosted copy in ort/ (env.wasm.wasmPaths): drop the unused 14 MB duplicate.
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const assets = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "assets");
for (const f of readdirSync(assets)) if (/^ort-wasm.*\.wasm$/.test(f)) rmSync(join(assets, f));
