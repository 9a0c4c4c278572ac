// Drives headless Chromium for benchmarks/run.py. Modes (first argument):
//   visit URL USER_DATA_DIR QUERY   one page visit with a persistent profile: ms to the first live result
//   micro URL CONFIG_JSON           text-model latency, its first runs on a new page, and ranking on bench.html
// Prints one JSON object on stdout.
// playwright-core is the web app's dev dependency
const { chromium } = await import(new URL("../../web/node_modules/playwright-core/index.mjs", import.meta.url).href);

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const [mode, url, arg, query] = process.argv.slice(2);

async function visit() {
  const ctx = await chromium.launchPersistentContext(arg, { executablePath: "/usr/bin/chromium", args: FLAGS });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]') && document.querySelector("#query"), null, { timeout: 300_000 });
  const readyMs = Date.now() - t0;
  await page.fill("#query", query);
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "live", null, { timeout: 120_000 });
  const firstResultMs = Date.now() - t0;
  const fatal = await page.$('[data-testid="fatal"]');
  await page.evaluate(() => navigator.serviceWorker?.ready);
  await ctx.close();
  return { ready_ms: readyMs, first_live_result_ms: firstResultMs, error: fatal ? "fatal message shown" : null };
}

// A fresh browser per thread count: the first runs of a new page, until the kernels are optimised.
async function tierUp(cfg) {
  const rows = [];
  for (const threads of cfg.threads) {
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
    const page = await browser.newPage();
    await page.goto(`${url}?threads=${threads}`);
    await page.waitForFunction(() => window.medmirBench);
    const samples = await page.evaluate(async ({ u, tokens, runs }) => {
      const { session } = await window.medmirBench.loadModel(u);
      return window.medmirBench.series(session, tokens, runs);
    }, { u: cfg.models[0].url, ...cfg.tier_up });
    rows.push({ threads, tokens: cfg.tier_up.tokens, samples_ms: samples });
    await browser.close();
  }
  return rows;
}

async function micro() {
  const cfg = JSON.parse(arg);
  const tier_up = await tierUp(cfg);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  const out = { text: [], ranking: [], tier_up };
  for (const threads of cfg.threads) {
    const page = await browser.newPage();
    await page.goto(`${url}?threads=${threads}`);
    await page.waitForFunction(() => window.medmirBench);
    out.cross_origin_isolated = await page.evaluate(() => window.medmirBench.crossOriginIsolated());
    // the first session of a page pays onnxruntime-web's one-time WASM start-up, and its first runs execute
    // unoptimised code until V8 has compiled the hot kernels (the tier_up rows): pay both before timing anything
    out.wasm_startup_ms = await page.evaluate(async ({ u, tokens, runs }) => {
      const { session, createMs } = await window.medmirBench.loadModel(u);
      await window.medmirBench.series(session, tokens, runs);
      await session.release();
      return createMs;
    }, { u: cfg.models[0].url, ...cfg.tier_up });
    for (const m of cfg.models) {
      const r = await page.evaluate(async ({ m, runs, warmup }) => {
        const { session, createMs } = await window.medmirBench.loadModel(m.url, m.level ?? "basic");
        const rows = [];
        for (const c of m.cases) rows.push({ ...c, ...(await window.medmirBench.textLatency(session, c.tokens, c.pad_to, runs, warmup)) });
        await session.release();
        return { createMs, rows };
      }, { m, runs: cfg.runs, warmup: cfg.warmup });
      for (const row of r.rows) out.text.push({ model: m.name, threads, session_create_ms: r.createMs, ...row });
    }
    if (threads === cfg.threads[0]) {
      for (const n of cfg.ranking_sizes) {
        out.ranking.push(await page.evaluate(({ n, runs }) => window.medmirBench.ranking(n, 512, runs), { n, runs: cfg.ranking_runs }));
      }
    }
    await page.close();
  }
  await browser.close();
  return out;
}

const result = mode === "visit" ? await visit() : await micro();
process.stdout.write(JSON.stringify(result) + "\n");
