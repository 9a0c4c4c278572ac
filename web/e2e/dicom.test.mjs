// End-to-end for DICOM (docs/DICOM.md): a collection built from DICOM files (pseudonymous names, tag facets), and
// DICOM files dropped as the query. Run by tests/test_e2e.py (test_dicom_site_in_chromium), which writes the
// collection and the query samples (tests/dicom_samples.py: every transfer syntax medmir reads) and serves the site.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, FLAGS, medmir, ownHostOnly } from "./common.mjs";

const URL_ = env("E2E_URL");
const BUNDLE = env("E2E_BUNDLE");
const PACK = env("E2E_PACK");
const SAMPLES = env("E2E_SAMPLES");
const SHOTS = process.env.E2E_SCREENSHOTS;

const samples = JSON.parse(readFileSync(join(SAMPLES, "samples.json"), "utf8"));
// each sample's query embedding and top 10 as medmir search --image gives them (tests/test_e2e.py writes them)
const answers = JSON.parse(readFileSync(join(SAMPLES, "python.json"), "utf8"));
const python = (...args) => JSON.parse(medmir("search", ...args, "--bundle", BUNDLE, "--model", PACK));

let browser, context, page;
const requests = [];

before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  context = await browser.newContext();
  await ownHostOnly(context);
  context.on("request", (r) => requests.push({ url: r.url(), method: r.method(), post: r.postData() }));
  page = await context.newPage();
  await page.goto(URL_);
  await page.waitForSelector("#query");
  await page.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]'), null, { timeout: 120_000 });
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading-rest"]'), null, { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
});

// The flat ranking, as `medmir search` gives it. The collection has two images per patient, and results group by
// patient (a card per patient, its other images folded under it): every group is opened, the cards read in rank order.
async function results(p) {
  for (let i = 0; i < 100; i++) {
    const closed = await p.$('[data-testid="group-more"][aria-expanded="false"]');
    if (!closed) break;
    await closed.click();
  }
  const cards = await p.$$eval('[data-testid="result"]', (els) =>
    els.map((e) => ({ rank: Number(e.dataset.rank), filename: e.dataset.filename, score: Number(e.dataset.score) })),
  );
  return cards.sort((a, b) => a.rank - b.rank);
}

async function dropped(file) {
  const seq = await page.$eval('[data-testid="search-error"]', (e) => Number(e.dataset.seq)).catch(() => 0);
  const key = await page.$eval('[data-testid="result-path"]', (e) => e.dataset.key).catch(() => "");
  await page.setInputFiles('[data-testid="upload"]', file);
  await page.waitForFunction(
    ([s, k]) => {
      const err = document.querySelector('[data-testid="search-error"]');
      const res = document.querySelector('[data-testid="result-path"]');
      return (err && Number(err.dataset.seq) > s) || (res && res.dataset.path === "image" && res.dataset.key !== k);
    },
    [seq, key],
    { timeout: 120_000 },
  );
  const err = await page.$eval('[data-testid="search-error"]', (e) => ({ seq: Number(e.dataset.seq), text: e.textContent })).catch(() => null);
  return err && err.seq > seq ? { error: err.text } : { error: null };
}

const cosine = (a, b) => {
  const dot = a.reduce((s, v, i) => s + v * b[i], 0);
  return dot / Math.sqrt(a.reduce((s, v) => s + v * v, 0) * b.reduce((s, v) => s + v * v, 0));
};

test("each DICOM sample as the query: medmir search --image's embedding (cosine >= 0.999) and top 10, and the file stays in the page", async () => {
  for (const s of samples.filter((x) => x.browser)) {
    const file = join(SAMPLES, `${s.name}.dcm`);
    const before = requests.length;
    const { error } = await dropped(file);
    assert.equal(error, null, `${s.name}: ${error}`);
    const q = JSON.parse(await page.$eval('[data-testid="query-embedding"]', (e) => e.dataset.values));
    const ref = answers[s.name];
    const cos = cosine(q, ref.embedding);
    assert.ok(cos >= 0.999, `${s.name} (${s.transfer_syntax}): browser vs Python query cosine ${cos}`);
    const got = await results(page);
    const top = got.slice(0, 10).map((r) => r.filename);
    // lossless samples give the browser Python's pixels exactly: the same order; a JPEG decoder may round differently
    if (s.exact) assert.deepEqual(top, ref.top, s.name);
    else assert.deepEqual(new Set(top), new Set(ref.top), s.name);
    const since = requests.slice(before);
    assert.ok(since.every((r) => r.method === "GET" && !r.post), `${s.name}: ${JSON.stringify(since.filter((r) => r.method !== "GET"))}`);
    assert.ok(since.every((r) => r.url.startsWith(URL_) || r.url.startsWith("blob:") || r.url.startsWith("data:")), JSON.stringify(since));
  }
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "dicom-query.png"), fullPage: false });
});

test("a DICOM the site cannot decode: the message names the file and its transfer syntax", async () => {
  for (const s of samples.filter((x) => !x.browser)) {
    const { error } = await dropped(join(SAMPLES, `${s.name}.dcm`));
    assert.ok(error, `${s.name} should be refused`);
    assert.ok(error.includes(s.transfer_syntax) && error.includes(`${s.name}.dcm`), error);
  }
});

test("facets: ticking a value keeps only rows with it, the URL holds it and a reload reproduces it", async () => {
  const meta = JSON.parse(readFileSync(join(BUNDLE, "metadata.json"), "utf8"));
  const f = meta.facets.modality;
  const cr = new Set(meta.columns.filename.filter((_, i) => f.values[f.rows[i]] === "CR"));
  assert.ok(cr.size > 0 && cr.size < meta.count);
  await page.fill("#query", "pleural effusion");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.key === "q:pleural effusion", null, { timeout: 120_000 });
  await page.$eval("details", (d) => (d.open = true));
  const box = page.locator('fieldset[data-facet="modality"] label', { hasText: "CR" }).locator("input");
  // click, not check(): the box follows the URL, which changes on the next hashchange, not during the click
  await box.click();
  // the app keeps its state in the hash (#/?q=...&f.modality=CR)
  await page.waitForFunction(() => new URLSearchParams(location.hash.split("?")[1] ?? "").get("f.modality") === "CR");
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"]').length === n, Math.min(cr.size, 10), { timeout: 60_000 });
  const got = await results(page);
  assert.ok(got.every((r) => cr.has(r.filename)), JSON.stringify(got));
  const want = python("pleural effusion", "--facet", "modality=CR", "--k", "10", "--json");
  assert.deepEqual(got.map((r) => r.filename), want.map((r) => r.filename));
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "facets.png"), fullPage: false });
  // the link in a fresh browser profile (another reader): the same filtered results
  const fresh = await browser.newContext();
  await ownHostOnly(fresh);
  const other = await fresh.newPage();
  await other.goto(page.url());
  await other.waitForFunction((n) => document.querySelectorAll('[data-testid="result"]').length === n, Math.min(cr.size, 10), { timeout: 120_000 });
  assert.deepEqual((await results(other)).map((r) => r.filename), want.map((r) => r.filename));
  await fresh.close();
});
