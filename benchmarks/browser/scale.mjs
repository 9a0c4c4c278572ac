// One visit of a served site at scale, in headless Chromium (benchmarks/scale.py): a novel query typed as soon as
// the search box exists, then queries typed once the page is ready, then queries once every row is in (a version 2
// bundle loads its shards in the background), then the memory of the page's renderer processes.
//
// Usage: node scale.mjs CONFIG_JSON
//   {url, control, userDataDir, first, afterReady: [..], ranked: [..], typeDelayMs, timeoutMs}
//   control: the counting server's own endpoint (never the browser's): {bytes, inflight, idle_ms}, to wait for the
//   visit's downloads to end before the browser closes
// Prints one JSON object on stdout. Times in ms on the page's clock (from navigation start), plus the page's
// timeOrigin (epoch ms) so that the server's byte counts can be read at "ready".
import { readFileSync, readdirSync } from "node:fs";

const { chromium } = await import(new URL("../../web/node_modules/playwright-core/index.mjs", import.meta.url).href);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const cfg = JSON.parse(process.argv[2]);
const timeout = cfg.timeoutMs ?? 900_000;

// Installed before the app's scripts: a MutationObserver (no polling, which would take CPU from the page) that
// stamps "ready", "every row in" and each result line as it first answers a key, on the page's clock.
function recorder() {
  const s = { ready: null, allLoaded: null, fatal: null, results: {}, waiters: [] };
  window.__scale = s;
  const check = () => {
    const t = performance.now();
    const q = document.querySelector("#query");
    if (s.fatal === null && document.querySelector('[data-testid="fatal"]')) s.fatal = t;
    if (s.ready === null && q && !document.querySelector('[aria-label="Loading the model and the index"]')) s.ready = t;
    if (s.ready !== null && s.allLoaded === null && !document.querySelector('[data-testid="loading-rest"]')) s.allLoaded = t;
    const e = document.querySelector('[data-testid="result-path"]');
    const key = e?.dataset.key;
    if (key && !(key in s.results)) {
      const partial = document.querySelector('[data-testid="partial"]');
      const emb = document.querySelector('[data-testid="query-embedding"]');
      s.results[key] = {
        ...e.dataset,
        at: t,
        partial: partial ? { searched: Number(partial.dataset.searched), of: Number(partial.dataset.of) } : null,
        embedding: emb ? JSON.parse(emb.dataset.values) : null,
        hits: [...document.querySelectorAll('[data-testid="result"]')].map((r) => ({ filename: r.dataset.filename, score: Number(r.dataset.score) })),
      };
    }
    s.waiters = s.waiters.filter((w) => (w.test() ? (w.resolve(), false) : true));
  };
  s.until = (what) =>
    new Promise((resolve) => {
      const test = () => (what.startsWith("q:") ? what in s.results : s[what] !== null || s.fatal !== null);
      if (test()) resolve();
      else s.waiters.push({ test, resolve });
    });
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
}

const num = (v) => (v === undefined || v === "" || v === null ? null : Number(v));

/** The renderer processes of this browser (descendants of this Node process with --type=renderer): PSS, RSS and
 * the peak resident set, from /proc. A dedicated worker runs in its page's renderer; a service worker may have one. */
function memory() {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const mine = (pid) => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  const kb = (text, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  const procs = [];
  for (const pid of parent.keys()) {
    if (!mine(pid)) continue;
    try {
      // Chromium rewrites its command line (one string, spaces between the arguments)
      const type = /--type=([\w-]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"))?.[1] ?? "browser";
      const roll = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      procs.push({ pid, type, pss_kb: kb(roll, "Pss"), rss_kb: kb(roll, "Rss"), hwm_kb: kb(status, "VmHWM") });
    } catch {
      // gone meanwhile
    }
  }
  const renderers = procs.filter((p) => p.type === "renderer");
  const sum = (xs, k) => xs.reduce((a, p) => a + p[k], 0);
  return {
    renderer_processes: renderers.length,
    renderer_pss_mb: sum(renderers, "pss_kb") / 1024,
    renderer_max_pss_mb: Math.max(0, ...renderers.map((p) => p.pss_kb)) / 1024,
    renderer_rss_mb: sum(renderers, "rss_kb") / 1024,
    renderer_peak_rss_mb: Math.max(0, ...renderers.map((p) => p.hwm_kb)) / 1024,
    all_processes: procs.length,
    all_pss_mb: sum(procs, "pss_kb") / 1024,
    processes: procs.map(({ pid, type, pss_kb, hwm_kb }) => ({ pid, type, pss_mb: pss_kb / 1024, peak_rss_mb: hwm_kb / 1024 })),
  };
}

/** Waits until the server has sent nothing for `ms` with no request open; the last state seen. */
async function idle(ms) {
  const end = Date.now() + 120_000;
  let c = null;
  while (Date.now() < end) {
    c = await (await fetch(cfg.control)).json();
    if (c.inflight === 0 && c.idle_ms >= ms) return { ...c, settled: true };
    await new Promise((r) => setTimeout(r, 250));
  }
  return { ...c, settled: false };
}

function record(key, d) {
  return {
    query: key.slice(2),
    path: d.path,
    at_ms: d.at,
    embed_ms: num(d.embedMs),
    wait_ms: num(d.waitMs),
    rank_ms: num(d.rankMs),
    total_ms: num(d.totalMs),
    tokens: num(d.tokens),
    warm: d.warm === "true",
    kernel: d.kernel ?? null,
    threads: num(d.threads),
    partial: d.partial,
    startup_epoch_ms: d.startup ? JSON.parse(d.startup) : null,
    hits: d.hits,
    embedding: d.embedding,
  };
}

async function ask(page, q, typeDelayMs) {
  await page.fill("#query", "");
  if (typeDelayMs) await page.locator("#query").pressSequentially(q, { delay: typeDelayMs });
  else await page.fill("#query", q);
  await page.press("#query", "Enter");
  await page.evaluate((k) => window.__scale.until(k), `q:${q}`);
  return record(`q:${q}`, await page.evaluate((k) => window.__scale.results[k], `q:${q}`));
}

async function main() {
  const ctx = await chromium.launchPersistentContext(cfg.userDataDir, { executablePath: "/usr/bin/chromium", args: FLAGS });
  ctx.setDefaultTimeout(timeout);
  await ctx.addInitScript(recorder);
  const errors = [];
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(cfg.url, { waitUntil: "commit" });
    // the first query, typed the moment the search box exists (the page answers it once it is ready)
    await page.waitForSelector("#query");
    const typedAt = await page.evaluate(() => performance.now());
    await page.fill("#query", cfg.first);
    await page.press("#query", "Enter");
    await page.evaluate(() => window.__scale.until("ready"));
    const fatal = await page.evaluate(() => (window.__scale.fatal === null ? null : document.querySelector('[data-testid="fatal"]')?.textContent ?? "fatal"));
    if (fatal) throw new Error(`the page shows a fatal error: ${fatal}`);
    await page.evaluate((k) => window.__scale.until(k), `q:${cfg.first}`);
    const first = record(`q:${cfg.first}`, await page.evaluate((k) => window.__scale.results[k], `q:${cfg.first}`));
    const afterReady = [];
    for (const q of cfg.afterReady) afterReady.push(await ask(page, q, cfg.typeDelayMs));
    await page.evaluate(() => window.__scale.until("allLoaded"));
    const ranked = [];
    for (const q of cfg.ranked) ranked.push(await ask(page, q, 0));
    const mem = memory();
    const clock = await page.evaluate(() => ({
      timeOrigin: performance.timeOrigin,
      ready: window.__scale.ready,
      allLoaded: window.__scale.allLoaded,
      isolated: self.crossOriginIsolated,
    }));
    // the rest of the visit: thumbnails, the service worker's install, background shards
    await page.evaluate(() => navigator.serviceWorker?.ready);
    const settled = await idle(2000);
    return {
      time_origin_epoch_ms: clock.timeOrigin,
      typed_first_at_ms: typedAt,
      ready_ms: clock.ready,
      all_loaded_ms: clock.allLoaded,
      cross_origin_isolated: clock.isolated,
      first,
      after_ready: afterReady,
      ranked,
      memory: mem,
      settled,
      end_epoch_ms: Date.now(),
      errors,
    };
  } finally {
    await ctx.close();
  }
}

process.stdout.write(JSON.stringify(await main()) + "\n");
