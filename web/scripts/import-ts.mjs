// Import one of the site's TypeScript modules from a Node script: Node 20 cannot import .ts, so it is bundled in
// memory with esbuild (a Vite dependency, so already installed and offline) and imported from a data: URL; nothing
// is written to disk. `plugins` may point imports elsewhere (they must resolve to absolute URLs or be external).
import { build } from "esbuild";

export async function importTs(entryUrl, plugins = []) {
  const out = await build({
    entryPoints: [new URL(entryUrl).pathname],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "node20",
    write: false,
    logLevel: "silent",
    plugins,
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString("base64")}`);
}
