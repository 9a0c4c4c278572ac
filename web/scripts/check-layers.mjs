// The layers of web/src, checked on every relative import: lib/ is shared by the page and the search worker, so it
// imports neither; the worker is reached only through its messages (lib/protocol), never imported by page code.
// Cycles inside a layer are madge's to find (npm run lint). Usage: node scripts/check-layers.mjs (exit 1 on a breach)
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Each layer and the layers its files may import ("" is the app's top-level files: main.tsx, App.tsx, ...). */
const ALLOWED = {
  lib: ["lib"],
  worker: ["lib", "worker"],
  components: ["lib", "components"],
  pages: ["lib", "components", "pages"],
  "": ["lib", "components", "pages", ""],
};

const layerOf = (path) => {
  const rel = relative(SRC, path);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "";
};

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) ? [path] : [];
  });
}

const breaches = [];
for (const file of sources(SRC)) {
  const from = layerOf(file);
  const allowed = ALLOWED[from];
  if (!allowed) {
    breaches.push(`${relative(SRC, file)}: in no known layer (add its folder to scripts/check-layers.mjs)`);
    continue;
  }
  for (const { fileName: spec } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
    if (!spec.startsWith(".")) continue; // a package
    const to = layerOf(resolve(dirname(file), spec));
    if (!allowed.includes(to)) {
      breaches.push(`${relative(SRC, file)} imports ${spec} (${from || "top level"} -> ${to || "top level"})`);
    }
  }
}
if (breaches.length > 0) {
  console.error("imports across layers (web/src: lib < worker, components < pages < top level):");
  for (const b of breaches) console.error(`  ${b}`);
  process.exit(1);
}
