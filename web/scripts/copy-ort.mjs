// Self-host onnxruntime-web's WASM runtime: the site fetches nothing from any other host.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "node_modules", "onnxruntime-web", "dist");
const dst = join(root, "public", "ort");
mkdirSync(dst, { recursive: true });
for (const f of ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]) copyFileSync(join(src, f), join(dst, f));
// the version the search worker puts in the runtime's URLs (ort/FILE?v=VERSION), for `medmir site`'s precache list
const { version } = JSON.parse(readFileSync(join(root, "node_modules", "onnxruntime-web", "package.json"), "utf8"));
writeFileSync(join(dst, "VERSION"), `${version}\n`);
