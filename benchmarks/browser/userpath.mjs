// The user's path through the served site, in headless Chromium (benchmarks/run.py's user-path figures): a visit,
// novel queries typed into the real search box key by key as soon as the page says it is ready, each submitted with
// Enter, then images searched through the real "Search with an image…" button and its file chooser.
//
// Usage: node userpath.mjs CONFIG_JSON
//   {url, queries: [..], images: [paths], typeDelayMs, pickDelayMs, floor: {pack, runs, warmup}, userDataDir?}
//   userDataDir: a Chromium profile to reuse (a repeat visit: Cache Storage, the thread-count calibration)
// Prints one JSON object on stdout. Each query reports the worker's own timing as the page shows it (embedding,
// including any wait for a run in progress; total), the wall time from Enter, or from the chosen file, to the
// results on screen, and the WASM floor of the same input measured right after it (floor.mjs).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const { chromium } = await import(new URL("../../web/node_modules/playwright-core/index.mjs", import.meta.url).href);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const cfg = JSON.parse(process.argv[2]);

/** floor.mjs as a server: warm before the visit starts, then one request per query, paired in time. */
async function startFloor(floorCfg) {
  const script = fileURLToPath(new URL("floor.mjs", import.meta.url));
  const proc = spawn(process.execPath, [script, JSON.stringify(floorCfg)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("floor.mjs exited");
    return JSON.parse(value);
  };
  const info = await next();
  return {
    runtime: info.runtime,
    ask: (req) => {
      proc.stdin.write(`${JSON.stringify(req)}\n`);
      return next();
    },
    close: () => proc.stdin.end(),
  };
}

const num = (v) => (v === undefined || v === "" ? null : Number(v));

/** Resolves with the result line's data attributes once it answers `key` (the previous results stay until then).
 * A MutationObserver in the page, set up before the query is sent: polling would itself take CPU from the model. */
async function watchResult(page, key) {
  await page.evaluate((k) => {
    window.__medmirResult = new Promise((resolve) => {
      const check = () => {
        const e = document.querySelector('[data-testid="result-path"]');
        if (e?.dataset.key !== k) return false;
        resolve({ ...e.dataset, at: performance.now() });
        return true;
      };
      if (check()) return;
      const mo = new MutationObserver(() => check() && mo.disconnect());
      mo.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-key"] });
    });
  }, key);
  return () => page.evaluate(() => window.__medmirResult);
}

const now = (page) => page.evaluate(() => performance.now());

function timing(d, wall) {
  return {
    embed_ms: num(d.embedMs),
    wait_ms: num(d.waitMs),
    total_ms: num(d.totalMs),
    wall_ms: wall,
    warm: d.warm === "true",
  };
}

async function main() {
  const floor = await startFloor({ ...cfg.floor, vision: cfg.images.length > 0 });
  const dir = cfg.userDataDir ?? mkdtempSync(join(tmpdir(), "medmir-userpath-"));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: "/usr/bin/chromium", args: FLAGS });
  // the floor of the same input, once the page has drawn the results
  const floorOf = async (page, req) => {
    await page.waitForTimeout(200);
    const f = await floor.ask(req);
    return { floor_ms: f.median_ms, floor_after_idle_ms: f.after_idle_ms, floor_samples_ms: f.samples_ms };
  };
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const t0 = Date.now();
    await page.goto(cfg.url);
    await page.waitForFunction(
      () => !document.querySelector('[aria-label="Loading the model and the index"]') && document.querySelector("#query"),
      null,
      { timeout: 600_000 },
    );
    const out = { ready_ms: Date.now() - t0, floor_runtime: floor.runtime, text: [], image: [], errors };
    Object.assign(out, await page.evaluate(() => ({ cross_origin_isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency })));
    for (const q of cfg.queries) {
      await page.fill("#query", "");
      await page.locator("#query").pressSequentially(q, { delay: cfg.typeDelayMs });
      const result = await watchResult(page, `q:${q}`);
      await page.evaluate(() => (window.__medmirSent = null));
      await page.evaluate(() => document.querySelector("#query").addEventListener("keydown", () => (window.__medmirSent = performance.now()), { once: true }));
      await page.keyboard.press("Enter");
      const d = await result();
      const wall = d.at - (await page.evaluate(() => window.__medmirSent));
      if (d.path !== "live") throw new Error(`${q}: answered by the ${d.path} path, not live inference`);
      out.threads = num(d.threads);
      out.thread_reason = d.threadReason;
      out.text.push({ query: q, tokens: num(d.tokens), ...timing(d, wall), ...(await floorOf(page, { query: q })) });
    }
    for (const file of cfg.images) {
      const chooser = page.waitForEvent("filechooser");
      await page.click("text=Search with an image");
      const fc = await chooser;
      await page.waitForTimeout(cfg.pickDelayMs);
      const result = await watchResult(page, `image:${basename(file)}`);
      const t = await now(page);
      await fc.setFiles(file);
      const d = await result();
      const wall = d.at - t;
      if (d.path !== "image") throw new Error(`${file}: answered by the ${d.path} path`);
      out.image.push({
        file: basename(file),
        load_ms: num(d.loadMs),
        preprocess_ms: num(d.preprocessMs),
        ...timing(d, wall),
        ...(await floorOf(page, { image: true })),
      });
    }
    return out;
  } finally {
    floor.close();
    await ctx.close();
    if (!cfg.userDataDir) rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(JSON.stringify(await main()) + "\n");
