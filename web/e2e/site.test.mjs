// End-to-end: the built site in Debian's Chromium (playwright-core), checked against `medmir search` and the
// bundle files. Run by tests/test_e2e.py, which builds the site from the shared NIH sample with the full-size
// random-weight pack, serves it on 127.0.0.1 and passes its paths in the environment.
import { mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, FLAGS, medmir, ownHostOnly, pathOf, readJson, results, search, waitReady } from "./common.mjs";

const URL_ = env("E2E_URL");
const SITE = env("E2E_SITE");
const BUNDLE = env("E2E_BUNDLE");
const PACK = env("E2E_PACK");
const IMAGE = env("E2E_IMAGE");
const BAD = JSON.parse(env("E2E_BAD")); // {corrupt, text, huge, long, tamperedUrl, badSizeUrl}
const SHOTS = process.env.E2E_SCREENSHOTS;
const SERVER_PID = Number(env("E2E_SERVER_PID"));
const host = new URL(URL_).host;

let browser;
let context;
let page;
const foreign = [];
const requests = [];
const dialogs = [];
// Content-Security-Policy violations Chromium logs; the site must cause none (the deliberate probe is counted apart)
const cspLogged = [];
let cspProbe = false;

async function newPage(ctx) {
  const p = await ctx.newPage();
  p.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  p.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspLogged.push({ probe: cspProbe, text: m.text() });
  });
  return p;
}

before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  context = await browser.newContext();
  // every request to another host fails, and is remembered: none may be attempted (the deliberately broken sites
  // of the last tests are served on other ports of 127.0.0.1)
  await ownHostOnly(context, foreign);
  context.on("request", (r) => requests.push({ url: r.url(), method: r.method(), post: r.postData() }));
  page = await newPage(context);
  await page.goto(URL_);
  await waitReady(page);
});

after(async () => {
  await browser?.close();
});

test("random-weight banner is visible", async () => {
  assert.ok(await page.isVisible('[data-testid="random-banner"]'));
});

// medmir embeds INT8 queries with the site's own runtime (onnxruntime-web WASM in Node), so the embeddings are
// bit-identical on any CPU and only the order of float additions in ranking differs: scores agree to 1e-5.
const SCORE_TOL = 1e-5;

test("live text search equals medmir search --json", async () => {
  const queries = ["small left apical pneumothorax", "cardiac silhouette is enlarged", "diffuse reticular interstitial markings",
    "subtle right basilar opacity possibly aspiration"];
  for (const q of queries) {
    const got = await search(page, q);
    assert.equal(await pathOf(page), "live", q);
    const want = JSON.parse(medmir("search", q, "--bundle", BUNDLE, "--model", PACK, "--k", "10", "--json"));
    assert.equal(got.length, 10);
    assert.deepEqual(got.map((r) => r.filename), want.map((r) => r.filename), q);
    got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < SCORE_TOL, `${q}: score ${r.score} vs ${want[i].score}`));
  }
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "search.png"), fullPage: false });
});

test("thread count: a first visit runs 1 thread, the next visit measures 2, with the same results", async () => {
  const shown = () => page.$eval('[data-testid="result-path"]', (e) => ({ threads: e.dataset.threads, reason: e.dataset.threadReason }));
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.deepEqual(await shown(), { threads: "1", reason: cores >= 2 ? "default" : "single" });
  if (cores < 2) return;
  // the first visit's warm-up records its run time in Cache Storage when it ends; the next visit reads it
  const recorded = () => page.evaluate(async () => {
    const hit = await (await caches.open("medmir-settings-v1")).match(new URL("medmir-calibration.json", document.baseURI).href);
    return hit ? hit.json() : null;
  });
  const t0 = Date.now();
  while (!(await recorded()) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 500));
  const rec = await recorded();
  assert.equal(rec.record.steadyMs["1"].length, 1, JSON.stringify(rec));
  await page.reload();
  await waitReady(page);
  const q = "cardiac silhouette is enlarged";
  const got = await search(page, q);
  assert.deepEqual(await shown(), { threads: "2", reason: "explore" });
  const want = JSON.parse(medmir("search", q, "--bundle", BUNDLE, "--model", PACK, "--k", "10", "--json"));
  assert.deepEqual(got.map((r) => r.filename), want.map((r) => r.filename), q);
  got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < SCORE_TOL, `${q}: score ${r.score} vs ${want[i].score}`));
});

test("precomputed fallback results equal what the browser computes live", async () => {
  const fb = readJson(join(BUNDLE, "fallback_results.json"));
  const meta = readJson(join(BUNDLE, "metadata.json")).images;
  for (const entry of [fb.queries[0], fb.queries[Math.floor(fb.queries.length / 2)], fb.queries.at(-1)]) {
    // a minimum score below every cosine filters nothing but skips the precomputed path
    await page.goto(`${URL_}#/?q=${encodeURIComponent(entry.query)}&min=-0.999`);
    await page.waitForFunction(
      (qq) => document.querySelector('[data-testid="result-path"]')?.dataset.key === `q:${qq}`,
      entry.query,
      { timeout: 120_000 },
    );
    assert.equal(await pathOf(page), "live", entry.query);
    const got = await results(page);
    assert.deepEqual(got.map((r) => r.filename), entry.ids.map((i) => meta[i].filename), entry.query);
    got.forEach((r, i) =>
      assert.ok(Math.abs(r.score - entry.scores[i]) < SCORE_TOL, `${entry.query}: ${r.score} vs ${entry.scores[i]}`));
  }
  assert.match(fb.text_runtime, /^onnxruntime-web /);
  await page.goto(`${URL_}#/`);
});

test("exact and fuzzy fallback paths use the precomputed results", async () => {
  const fb = readJson(join(BUNDLE, "fallback_results.json"));
  const meta = readJson(join(BUNDLE, "metadata.json")).images;
  const entry = fb.queries.find((q) => q.query === "pleural effusion");
  const want = entry.ids.map((i) => meta[i].filename);
  let got = await search(page, "Pleural Effusion!");
  assert.equal(await pathOf(page), "exact");
  assert.deepEqual(got.map((r) => r.filename), want);
  got = await search(page, "pleural efusion");
  assert.equal(await pathOf(page), "fuzzy");
  assert.deepEqual(got.map((r) => r.filename), want);
  const cxr = fb.queries.find((q) => q.query === "normal chest x-ray");
  got = await search(page, "normal chest xray");
  assert.equal(await pathOf(page), "fuzzy");
  assert.deepEqual(got.map((r) => r.filename), cxr.ids.map((i) => meta[i].filename));
});

test("Find similar shows the precomputed neighbours", async () => {
  await search(page, "small left apical pneumothorax");
  const first = (await results(page))[0];
  const meta = readJson(join(BUNDLE, "metadata.json")).images;
  const nn = readJson(join(BUNDLE, "nearest_neighbors.json"));
  const row = meta.findIndex((m) => m.filename === first.filename);
  await page.click('[data-testid="result"][data-rank="1"] >> text=Find similar');
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "neighbors");
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"]').length === n, nn.ids[row].length);
  const got = await results(page);
  assert.deepEqual(got.map((r) => r.filename), nn.ids[row].map((i) => meta[i].filename));
});

test("upload search matches Python (same INT8 model) and the image never leaves the page", async () => {
  const before = requests.length;
  await page.setInputFiles('[data-testid="upload"]', IMAGE);
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "image", null, { timeout: 120_000 });
  await page.waitForSelector('[data-testid="query-embedding"]', { state: "attached" });
  const q = JSON.parse(await page.$eval('[data-testid="query-embedding"]', (e) => e.dataset.values));
  const ref = JSON.parse(medmir("search", "--image", IMAGE, "--bundle", BUNDLE, "--model", PACK, "--query-embedding"));
  const dot = q.reduce((a, v, i) => a + v * ref[i], 0);
  const norm = Math.sqrt(q.reduce((a, v) => a + v * v, 0) * ref.reduce((a, v) => a + v * v, 0));
  assert.ok(dot / norm >= 0.995, `browser vs Python query cosine ${dot / norm}`);
  const got = await results(page);
  const want = JSON.parse(medmir("search", "--image", IMAGE, "--bundle", BUNDLE, "--model", PACK, "--k", "10", "--json"));
  assert.deepEqual(new Set(got.map((r) => r.filename)), new Set(want.map((r) => r.filename)));
  const since = requests.slice(before);
  assert.ok(since.every((r) => r.method === "GET" && !r.post), JSON.stringify(since.filter((r) => r.method !== "GET")));
  assert.ok(since.every((r) => new URL(r.url).host === host || r.url.startsWith("blob:")));
});

// The error this upload caused, not the previous one: the error element names its request (data-key) and counts
// errors (data-seq), so two uploads failing with the same text are still told apart.
async function uploadError(p, file, timeout) {
  const seq = await p.$eval('[data-testid="search-error"]', (e) => Number(e.dataset.seq)).catch(() => 0);
  await p.setInputFiles('[data-testid="upload"]', file);
  await p.waitForFunction(
    ([key, prev]) => {
      const e = document.querySelector('[data-testid="search-error"]');
      return e?.dataset.key === key && Number(e.dataset.seq) > prev;
    },
    [`image:${basename(file)}`, seq],
    { timeout },
  );
  return p.textContent('[data-testid="search-error"]');
}

test("bad uploads give a clear message, no crash", async () => {
  const cases = [[BAD.corrupt, /not an image|decode/], [BAD.text, /not an image|decode/], [BAD.text, /not an image|decode/],
    [BAD.huge, /too large for the browser: 10000x10000/]];
  for (const [file, pattern] of cases) assert.match(await uploadError(page, file, 60_000), pattern, file);
  assert.ok(await page.isVisible("#query"));
});

test("a tiny 40000 x 1 PNG is refused at once and the page stays usable", async () => {
  // refused from its header: before the size rule it decoded, then hung in a 6 GB model resize for minutes
  const t0 = Date.now();
  const msg = await uploadError(page, BAD.long, 10_000);
  assert.match(msg, /long\.png: image too large: 40000x1; each side may be at most 20,000 pixels/);
  assert.ok(Date.now() - t0 < 10_000);
  assert.equal(await page.locator('[role="status"]', { hasText: "Searching" }).count(), 0);
  const got = await search(page, "small left apical pneumothorax");
  assert.equal(got.length, 10);
  assert.equal(await pathOf(page), "live");
});

test("HTML in labels and file names stays text", async () => {
  const meta = readJson(join(BUNDLE, "metadata.json")).images;
  const row = meta.findIndex((m) => m.filename.includes("<img"));
  assert.ok(row >= 0, "the e2e bundle has an image with HTML in its name");
  await page.goto(`${URL_}#/?like=${row}`);
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "row", null, { timeout: 60_000 });
  const card = page.locator('[data-testid="result"][data-rank="1"]');
  assert.equal(await card.getAttribute("data-filename"), meta[row].filename);
  assert.ok((await card.textContent()).includes(meta[row].labels[0]), "label shown as text");
  assert.equal(await page.locator("script:not([src])").count(), 0);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.deepEqual(dialogs, []);
});

test("hostile names: thumbnail URLs, long labels, bidi controls", async () => {
  const meta = readJson(join(BUNDLE, "metadata.json")).images;
  const open = async (row) => {
    await page.goto(`${URL_}#/?like=${row}`);
    await page.waitForFunction((k) => document.querySelector('[data-testid="result-path"]')?.dataset.key === k, `like:${row}`,
      { timeout: 60_000 });
    const card = page.locator('[data-testid="result"][data-rank="1"]');
    assert.equal(await card.getAttribute("data-filename"), meta[row].filename);
    return card;
  };
  // '#' and '?' in a file name: the thumbnail URL encodes them and loads (HTTP 200, a decoded image)
  const urlRow = meta.findIndex((m) => m.filename.includes("#"));
  assert.ok(urlRow >= 0 && meta[urlRow].filename.includes("?"), "the e2e bundle has a name with # and ?");
  const card = await open(urlRow);
  const img = card.locator("img");
  await img.evaluate((el) => new Promise((r) => {
    if (el.complete) r();
    el.addEventListener("load", r, { once: true });
    el.addEventListener("error", r, { once: true });
  }));
  assert.ok(await img.evaluate((el) => el.naturalWidth > 0), "thumbnail decoded");
  const src = await img.getAttribute("src");
  assert.match(src, /\/data\/images\/scan%20%231%3Fv%3D2%26x%3D%2541\.webp$/);
  assert.equal(await page.evaluate((u) => fetch(u).then((r) => r.status), src), 200);
  // a 5000-character label with no break opportunity wraps: the page does not widen (cards and the filter list)
  assert.ok(meta[urlRow].labels[0].length === 5000);
  await page.click("summary:has-text('Filters')");
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(widths[0] <= widths[1] + 2, `page ${widths[0]} px wide in a ${widths[1]} px viewport`);
  // bidi controls are shown escaped, never rendered raw
  const bidiRow = meta.findIndex((m) => m.filename.includes("\u202e"));
  assert.ok(bidiRow >= 0);
  const shown = await (await open(bidiRow)).locator('[data-testid="filename"]').textContent();
  assert.equal(shown, "bidi\\u202Egnp.exe\\u2066.png");
  const raw = await page.evaluate(() => /[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/.test(document.body.innerText));
  assert.equal(raw, false, "a raw bidi control is rendered");
});

test("the Content-Security-Policy is in force", async () => {
  // the policy comes from a <meta> in index.html: an inline script and a request to another origin are refused
  // and reported; without the meta tag both would go through
  cspProbe = true;
  const other = new URL("csp-probe.json", BAD.tamperedUrl).href; // another port: another origin
  const got = await page.evaluate(async (url) => {
    const seen = [];
    document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective));
    const s = document.createElement("script");
    s.textContent = "window.__cspInlineRan = true";
    document.head.appendChild(s);
    const st = document.createElement("style");
    st.textContent = "body { outline: 3px solid red }";
    document.head.appendChild(st);
    const fetched = await fetch(url).then(() => true, () => false);
    await new Promise((r) => setTimeout(r, 300)); // violation events are queued as tasks
    return { seen, fetched, inline: window.__cspInlineRan === true, outline: getComputedStyle(document.body).outlineStyle };
  }, other);
  cspProbe = false;
  assert.equal(got.inline, false, "an injected inline script ran");
  assert.equal(got.fetched, false, "a request to another origin went through");
  assert.notEqual(got.outline, "solid", "an injected inline style applied");
  for (const d of ["script-src-elem", "connect-src", "style-src-elem"]) assert.ok(got.seen.includes(d), `${d}: ${got.seen}`);
  assert.ok(cspLogged.some((c) => c.probe), "Chromium's CSP console reports are observed (the no-violation check is live)");
});

test("metrics page shows exactly metrics.json", async () => {
  const m = readJson(join(BUNDLE, "metrics.json"));
  await page.goto(`${URL_}#/metrics`);
  await page.waitForSelector('[data-testid="metric"]');
  const cells = await page.$$eval('[data-testid="metric"]', (els) => els.map((e) => ({ tier: e.dataset.tier, metric: e.dataset.metric, value: e.dataset.value })));
  assert.ok(cells.length > 20);
  for (const c of cells) {
    const src = c.tier === "image_to_image" ? m.image_to_image.metrics[c.metric] : m.tiers[c.tier]?.metrics[c.metric];
    assert.ok(src, `${c.tier}/${c.metric} not in metrics.json`);
    assert.equal(Number(c.value), src.value, `${c.tier}/${c.metric}`);
  }
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "metrics.png"), fullPage: false });
  await page.goto(`${URL_}#/hard-cases`);
  await page.waitForSelector("h1, h2");
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "hard-cases.png"), fullPage: false });
});

test("the benchmark page times every step and offers the JSON", async () => {
  await page.goto(`${URL_}#/benchmark`);
  await page.fill('input[type="number"]', "2");
  await page.click("text=Run benchmark");
  await page.waitForSelector('[data-testid="bench-table"]', { timeout: 120_000 });
  const rows = await page.$$eval('[data-testid="bench-table"] tbody tr', (trs) => trs.map((t) => t.textContent));
  assert.equal(rows.length, 4);
  assert.ok(await page.isVisible("text=Download JSON"));
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "benchmark.png"), fullPage: false });
});

test("a tampered model file and a bad bundle give clear messages", async () => {
  const p = await newPage(context);
  await p.goto(BAD.tamperedUrl);
  await p.waitForSelector('[data-testid="fatal"]', { timeout: 120_000 });
  assert.match(await p.textContent('[data-testid="fatal"]'), /sha256 mismatch/);
  await p.goto(BAD.badSizeUrl);
  await p.waitForSelector('[data-testid="fatal"]', { timeout: 60_000 });
  assert.match(await p.textContent('[data-testid="fatal"]'), /embeddings\.bin/);
  await p.close();
});

test("only 127.0.0.1 was contacted", () => {
  assert.deepEqual(foreign, []);
  assert.ok(requests.every((r) => new URL(r.url).hostname === "127.0.0.1" || /^(blob|data):/.test(r.url)));
});

test("with the server stopped, a reload still searches: online (HTTP cache) and offline (service worker)", async () => {
  // Playwright's routing, this file's guard against other hosts, turns the HTTP cache off: a second context without
  // it shows what a browser that is online gets (the WASM runtime from the HTTP cache, where its compiled code is
  // kept; the shell from the service worker; the data and models from the device's store). The guarded context then
  // goes offline: the service worker answers the runtime too.
  const plain = await browser.newContext();
  plain.on("request", (r) => {
    if (!/^(http:\/\/127\.0\.0\.1[:/]|blob:|data:)/.test(r.url())) foreign.push(r.url());
  });
  const online = await plain.newPage();
  for (const p of [online, page]) {
    await p.goto(URL_);
    await waitReady(p);
    await p.evaluate(() => navigator.serviceWorker.ready);
  }
  process.kill(SERVER_PID, "SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  await context.setOffline(true);
  for (const p of [online, page]) {
    await p.reload();
    await waitReady(p);
    const got = await search(p, "left lower lobe opacity");
    assert.equal(got.length, 10);
    assert.equal(await pathOf(p), "live");
  }
  await plain.close();
});

test("the site itself broke no rule of its Content-Security-Policy (searches, uploads, pages, service worker)", () => {
  assert.deepEqual(cspLogged.filter((c) => !c.probe), []);
});

if (SHOTS) mkdirSync(SHOTS, { recursive: true });
