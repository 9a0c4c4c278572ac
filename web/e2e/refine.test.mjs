// End-to-end: refine by example (Rocchio marks), composed queries (words with exclusions, an image plus words), the
// evidence panel, export (CSV, JSON), keyboard moves, and axe-core on every page. Run by tests/test_e2e.py
// (test_refine_in_chromium), which builds the site from the shared NIH sample with the random-weight pack.
//
// This context bypasses the page's Content-Security-Policy: axe-core is injected from node_modules as an inline
// script (page.addScriptTag({path}), never from a CDN), which the policy would refuse. site.test.mjs checks the
// policy itself.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, FLAGS, medmir, ownHostOnly, pathOf, readJson, results, search, waitKey, waitReady } from "./common.mjs";

const URL_ = env("E2E_URL");
const BUNDLE = env("E2E_BUNDLE");
const PACK = env("E2E_PACK");
const IMAGE = env("E2E_IMAGE");
const SHOTS = process.env.E2E_SCREENSHOTS;
if (SHOTS) mkdirSync(SHOTS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

// the weights the page documents (web/src/worker/rank/compose.ts)
const ROCCHIO = { alpha: 1, beta: 0.75, gamma: 0.15 };
const EXCLUDE_WEIGHT = 0.5;
const ADD_WORDS_WEIGHT = 1;

const meta = readJson(join(BUNDLE, "metadata.json")).images;
const info = readJson(join(BUNDLE, "index_info.json"));
const nn = readJson(join(BUNDLE, "nearest_neighbors.json"));
const emb = (() => {
  const b = readFileSync(join(BUNDLE, "embeddings.bin"));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
})();
const rowVec = (r) => Array.from(emb.subarray(r * info.dim, (r + 1) * info.dim));
const rowOf = (filename) => meta.findIndex((m) => m.filename === filename);

const norm = (v) => {
  const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return v.map((x) => x / n);
};
const add = (a, b, w = 1) => a.map((x, i) => x + w * b[i]);
const cosine = (a, b) => norm(a).reduce((s, x, i) => s + x * norm(b)[i], 0);
/** the bundle's top k for q, as the site ranks (higher score first, lower row on ties) */
function rankAll(q, k) {
  const scores = meta.map((_, r) => rowVec(r).reduce((s, x, i) => s + x * q[i], 0));
  return scores.map((s, r) => ({ r, s })).sort((a, b) => b.s - a.s || a.r - b.r).slice(0, k);
}

const textEmbedding = (t) => JSON.parse(medmir("search", t, "--bundle", BUNDLE, "--model", PACK, "--query-embedding"));

let browser;
let context;
let page;
const foreign = [];
const requests = [];

const queryVector = (p) => p.$eval('[data-testid="query-embedding"]', (e) => JSON.parse(e.dataset.values));
const hashParams = (p) => p.evaluate(() => new URLSearchParams(location.hash.split("?")[1] ?? "").toString());

/** axe-core (self-hosted) on the page as it is: no violation of impact serious or critical. */
async function axeCheck(p, name) {
  if (!(await p.evaluate(() => typeof window.axe !== "undefined"))) await p.addScriptTag({ path: AXE });
  const found = await p.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
  });
  const bad = found.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${name}: ${JSON.stringify(bad, null, 1)}`);
}

/** RFC 4180 rows */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), (cell = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    } else cell += c;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  return rows;
}

before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  context = await browser.newContext({ bypassCSP: true, acceptDownloads: true });
  await ownHostOnly(context, foreign);
  context.on("request", (r) => requests.push({ url: r.url(), method: r.method() }));
  page = await context.newPage();
  // every image its own card (results are grouped by patient by default): the cards are the ranked results
  await page.goto(`${URL_}#/?group=0`);
  await waitReady(page);
});

after(async () => {
  await browser?.close();
});

test("keyboard: the results heading takes focus, arrows move through the cards, Enter opens Find similar", async () => {
  await search(page, "small left apical pneumothorax");
  await page.waitForFunction(() => document.activeElement?.id === "results-heading");
  const focused = () => page.evaluate(() => document.activeElement?.closest('[data-testid="result"]')?.dataset.rank ?? null);
  await page.keyboard.press("ArrowRight"); // from the heading into the grid
  assert.equal(await focused(), "1");
  await page.keyboard.press("ArrowRight");
  assert.equal(await focused(), "2");
  assert.equal(await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), "solid", "visible focus");
  await page.keyboard.press("ArrowLeft");
  assert.equal(await focused(), "1");
  await page.keyboard.press("End");
  assert.equal(await focused(), "10");
  await page.keyboard.press("Home");
  assert.equal(await focused(), "1");
  const cols = await page.$$eval('[data-testid="result"]', (els) => els.filter((e) => e.offsetTop === els[0].offsetTop).length);
  await page.keyboard.press("ArrowDown");
  assert.equal(await focused(), String(1 + cols));
  const first = (await results(page))[0];
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Enter");
  const row = rowOf(first.filename);
  await waitKey(page, `similar:${row}`);
  await page.waitForFunction(() => document.activeElement?.id === "results-heading");
});

test("words with exclusions: normalize(e(a) - 0.5 e(b)), live, and not the plain query's results", async () => {
  const plain = await search(page, "effusion");
  const got = await search(page, "effusion -cardiomegaly");
  assert.equal(await pathOf(page), "composed");
  const want = norm(add(textEmbedding("effusion"), textEmbedding("cardiomegaly"), -EXCLUDE_WEIGHT));
  const q = await queryVector(page);
  assert.ok(cosine(q, want) > 0.9999, `composed query vs expected: cosine ${cosine(q, want)}`);
  const ranked = rankAll(want, 10);
  assert.deepEqual(got.map((r) => r.filename), ranked.map((x) => meta[x.r].filename));
  got.forEach((r, i) => assert.ok(Math.abs(r.score - ranked[i].s) < 1e-4, `${r.score} vs ${ranked[i].s}`));
  assert.notDeepEqual(got.map((r) => [r.filename, r.score]), plain.map((r) => [r.filename, r.score]));
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "composed-query.png"), fullPage: false });
  // a query that is only exclusions is refused with a message
  await page.fill("#query", "-cardiomegaly");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.querySelector('[data-testid="search-error"]')?.dataset.key === "q:-cardiomegaly");
  assert.match(await page.textContent('[data-testid="search-error"]'), /cannot be only exclusions/);
});

test("a + mark moves the marked image's precomputed neighbours up; the link reproduces it", async () => {
  const q = "cardiac silhouette is enlarged";
  const all = Math.min(info.count, 60);
  await page.goto(`${URL_}#/?group=0&q=${encodeURIComponent(q)}&pages=6`);
  await waitKey(page, `q:${q}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"]').length === n, all);
  const before = await results(page);
  const marked = before[Math.floor((before.length * 2) / 3)];
  const row = rowOf(marked.filename);
  const neighbours = nn.ids[row].filter((r) => r !== row).map((r) => meta[r].filename);
  const meanRank = (list) => {
    const at = new Map(list.map((r) => [r.filename, r.rank]));
    return neighbours.reduce((s, f) => s + at.get(f), 0) / neighbours.length;
  };
  await page.click(`[data-testid="result"][data-rank="${marked.rank}"] [data-mark="pos"]`);
  await waitKey(page, `q:${q}&pos=${row}`);
  assert.equal(await pathOf(page), "refined");
  assert.match(await hashParams(page), new RegExp(`(^|&)pos=${row}(&|$)`));
  const after = await results(page);
  assert.equal(after.length, all);
  const [b, a] = [meanRank(before), meanRank(after)];
  assert.ok(a < b, `the marked image's neighbours: mean rank ${b} before, ${a} after`);
  // q' = normalize(1 q + 0.75 row)
  const want = norm(add(norm(textEmbedding(q)).map((x) => ROCCHIO.alpha * x), norm(rowVec(row)), ROCCHIO.beta));
  assert.ok(cosine(await queryVector(page), want) > 0.9999);
  // the marked card shows its mark (its button is pressed), wherever it ranks now
  const card = page.locator(`[data-testid="result"][data-filename="${marked.filename.replace(/"/g, '\\"')}"]`);
  assert.equal(await card.locator('[data-mark="pos"]').getAttribute("aria-pressed"), "true");
  assert.equal(await page.locator(`[data-testid="marks"] [data-mark="pos"][data-id="${row}"]`).count(), 1);
  // a - mark too: normalize(q + 0.75 pos - 0.15 neg)
  const neg = after.at(-1);
  const negRow = rowOf(neg.filename);
  await page.click(`[data-testid="result"][data-rank="${neg.rank}"] [data-mark="neg"]`);
  await waitKey(page, `q:${q}&pos=${row}&neg=${negRow}`);
  const want2 = norm(add(add(norm(textEmbedding(q)), norm(rowVec(row)), ROCCHIO.beta), norm(rowVec(negRow)), -ROCCHIO.gamma));
  assert.ok(cosine(await queryVector(page), want2) > 0.9999);
  const refined = await results(page);
  if (SHOTS) {
    await page.evaluate(() => document.getElementById("results-heading").scrollIntoView({ block: "start" }));
    await page.screenshot({ path: join(SHOTS, "refine-marks.png"), fullPage: false });
  }
  // the link reproduces the refined search in a fresh page
  const other = await context.newPage();
  await other.goto(page.url());
  await waitReady(other);
  await waitKey(other, `q:${q}&pos=${row}&neg=${negRow}`);
  assert.deepEqual((await results(other)).map((r) => r.filename), refined.map((r) => r.filename));
  await other.close();
});

test("export: the CSV's rows equal the shown results, and the JSON too; made in the page", async () => {
  const q = "diffuse reticular interstitial markings";
  const all = Math.min(info.count, 60);
  await page.goto(`${URL_}#/?group=0&q=${encodeURIComponent(q)}&pages=6`); // every image: the hostile names too
  await waitKey(page, `q:${q}`);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="result"]').length === n, all);
  const shown = await results(page);
  const path = await pathOf(page);
  const sent = requests.length;
  const [csv] = await Promise.all([page.waitForEvent("download"), page.click("text=Download CSV")]);
  assert.equal(csv.suggestedFilename(), "medmir-results.csv");
  const rows = parseCsv(readFileSync(await csv.path(), "utf8"));
  assert.deepEqual(rows[0], ["rank", "filename", "score", "labels", "patient", "path"]);
  const guard = (s) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
  // the patient column: the row's pseudonym where the worker gives one (metadata's patient_id), else empty
  const patients = rows.slice(1).map((r) => r[4]);
  assert.deepEqual(
    rows.slice(1),
    shown.map((r, i) => [String(r.rank), guard(r.filename), String(r.score), guard(meta[rowOf(r.filename)].labels.join("|")), patients[i], path]),
  );
  shown.forEach((r, i) => assert.ok(["", guard(meta[rowOf(r.filename)].patient_id ?? "")].includes(patients[i]), patients[i]));
  const [json] = await Promise.all([page.waitForEvent("download"), page.click("text=Download JSON")]);
  const doc = JSON.parse(readFileSync(await json.path(), "utf8"));
  assert.deepEqual(doc.results.map((r) => guard(r.patient)), patients);
  assert.deepEqual(doc.results.map((r) => [r.rank, r.filename, r.score, r.path]), shown.map((r) => [r.rank, r.filename, r.score, path]));
  assert.deepEqual(doc.results.map((r) => r.labels), shown.map((r) => meta[rowOf(r.filename)].labels));
  assert.ok(requests.slice(sent).every((r) => r.url.startsWith("blob:")), JSON.stringify(requests.slice(sent)));
  if (SHOTS) {
    await page.locator('[data-testid="export"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, "export.png"), fullPage: false });
  }
});

test("evidence: an image query shows its neighbours' label counts with the research-use note; image + words", async () => {
  // an image with Effusion whose nearest images have no 5000-character label (the screenshot stays readable)
  const plain = (r) => meta[r].labels.every((l) => l.length <= 40);
  const withEffusion = meta.map((m, r) => (m.labels.includes("Effusion") ? r : -1)).filter((r) => r >= 0);
  const row = withEffusion.find((r) => rankAll(rowVec(r), 11).every((x) => plain(x.r))) ?? withEffusion[0];
  await page.goto(`${URL_}#/?group=0&like=${row}`);
  await waitKey(page, `like:${row}`);
  const shown = await results(page);
  const counts = new Map();
  for (const r of shown) for (const l of new Set(meta[rowOf(r.filename)].labels)) counts.set(l, (counts.get(l) ?? 0) + 1);
  const panel = page.locator('[data-testid="evidence"]');
  assert.equal(await panel.getAttribute("data-k"), String(shown.length));
  const got = await panel.locator("li[data-label]").evaluateAll((els) => els.map((e) => [e.dataset.label, Number(e.dataset.count)]));
  assert.deepEqual(new Map(got), counts);
  const effusion = await panel.locator('li[data-label="Effusion"]').textContent();
  assert.equal(effusion, `Effusion ${counts.get("Effusion")} of ${shown.length}`);
  assert.match(await panel.locator('[data-testid="disclaimer"]').textContent(), /for research and education, not a diagnosis/i);
  if (SHOTS) {
    await panel.evaluate((e) => e.scrollIntoView({ block: "center" }));
    await page.screenshot({ path: join(SHOTS, "evidence.png"), fullPage: false });
  }
  // no evidence for a text query
  await search(page, "left lower lobe opacity");
  assert.equal(await page.locator('[data-testid="evidence"]').count(), 0);
  // an uploaded image, then words added to it: normalize(e(image) + 1 e(words)) from the embedding the worker kept
  await page.setInputFiles('[data-testid="upload"]', IMAGE);
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "image", null, { timeout: 120_000 });
  const image = await queryVector(page);
  assert.equal(await hashParams(page), "group=0&img=1");
  assert.ok(await page.isVisible('[data-testid="evidence"]'));
  await page.fill("#add-words", "effusion");
  await page.press("#add-words", "Enter");
  await waitKey(page, "image&add=effusion");
  assert.equal(await pathOf(page), "composed");
  const want = norm(add(norm(image), norm(textEmbedding("effusion")), ADD_WORDS_WEIGHT));
  assert.ok(cosine(await queryVector(page), want) > 0.9999);
  assert.ok(await page.isVisible('[data-testid="evidence"]'));
});

test("axe-core: no serious or critical violation on any page", async () => {
  const row = meta.findIndex((m) => m.labels.includes("Effusion"));
  const other = nn.ids[row][0];
  // the search page with everything on it: results, evidence, a mark, the add-words box
  await page.goto(`${URL_}#/?group=0&like=${row}&pos=${other}`);
  await waitKey(page, `like:${row}&pos=${other}`);
  await page.$eval("details", (d) => (d.open = true));
  await axeCheck(page, "search (image query, refined)");
  await search(page, "effusion -cardiomegaly");
  await axeCheck(page, "search (composed)");
  await page.goto(`${URL_}#/?group=0`);
  await page.waitForFunction(() => !document.querySelector('[data-testid="result"]'));
  await axeCheck(page, "search (empty)");
  for (const [route, ready] of [["metrics", '[data-testid="metric"]'], ["hard-cases", "h1, h2"], ["benchmark", "text=Run benchmark"]]) {
    await page.goto(`${URL_}#/${route}`);
    await page.waitForSelector(ready);
    await axeCheck(page, route);
  }
});

test("only 127.0.0.1 was contacted", () => {
  assert.deepEqual(foreign, []);
});
