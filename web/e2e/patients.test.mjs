// End-to-end: patient-aware results and the filters, in Debian's Chromium (playwright-core). Run by
// tests/test_e2e.py (test_patients_in_chromium) on a version 1 bundle of the e2e selection plus two follow-ups of one
// patient P: an exact copy of P's image O (so O's nearest neighbour is P's own) and another image. Expected rankings
// come from the bundle's own float32 embeddings and neighbours, and from `medmir search`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, FLAGS, medmir, ownHostOnly, pathOf, readJson } from "./common.mjs";

const URL_ = env("E2E_URL");
const BUNDLE = env("E2E_BUNDLE");
const PACK = env("E2E_PACK");
const SCORE_TOL = 1e-5;

const info = readJson(join(BUNDLE, "index_info.json"));
const meta = readJson(join(BUNDLE, "metadata.json")).images;
const nn = readJson(join(BUNDLE, "nearest_neighbors.json"));
const raw = readFileSync(join(BUNDLE, "embeddings.bin"));
const emb = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
const python = (q, ...extra) => JSON.parse(medmir("search", q, "--bundle", BUNDLE, "--model", PACK, "--json", ...extra));

// P: the patient with several images; O: the image the fixture copied (the copy, and another follow-up, come last)
const groupBy = (xs, key) => {
  const m = new Map();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
};
const byPatient = groupBy(meta, (m) => m.patient_id ?? "");
const P = [...byPatient.entries()].find(([p, ms]) => p && ms.length === 3)?.[0];
const O = meta.findIndex((m) => m.patient_id === P);
const COPY = meta.findIndex((m, i) => i !== O && m.patient_id === P && m.filename.includes("followup-a"));

/** Every row ranked by its dot product with row `q` (float64 over the float32 embeddings), best first, ties by row. */
function rankedBy(q, keep = () => true) {
  const d = info.dim;
  const out = [];
  for (let r = 0; r < info.count; r++) {
    if (!keep(r)) continue;
    let s = 0;
    for (let j = 0; j < d; j++) s += emb[r * d + j] * emb[q * d + j];
    out.push({ row: r, filename: meta[r].filename, score: s });
  }
  return out.sort((a, b) => b.score - a.score || a.row - b.row);
}

let browser;
let page;

const waitKey = (p, key) =>
  p.waitForFunction((k) => document.querySelector('[data-testid="result-path"]')?.dataset.key === k, key, { timeout: 120_000 });

/** The cards shown, in page order. */
const cards = (p) =>
  p.$$eval('[data-testid="result"]', (els) =>
    els.map((e) => ({ rank: Number(e.dataset.rank), filename: e.dataset.filename, score: Number(e.dataset.score), sameAs: e.dataset.sameAs ?? null })),
  );

/** The flat ranking: every folded group opened, every image's card in rank order. */
async function flat(p) {
  for (let i = 0; i < 100; i++) {
    const closed = await p.$('[data-testid="group-more"][aria-expanded="false"]');
    if (!closed) break;
    await closed.click();
  }
  return (await cards(p)).sort((a, b) => a.rank - b.rank);
}

function same(got, want, what) {
  assert.deepEqual(got.map((r) => r.filename), want.map((r) => r.filename), what);
  got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < SCORE_TOL, `${what}: score ${r.score} vs ${want[i].score}`));
}

/** Back to the empty search page (no results shown), so the next search's results are its own. */
async function reset(p = page) {
  await p.goto(`${URL_}#/`);
  await p.waitForFunction(() => !document.querySelector('[data-testid="result-path"]'));
}

async function open(hash, key) {
  await page.goto(`${URL_}#/?${hash}`);
  await waitKey(page, key);
}

before(async () => {
  assert.ok(P && O >= 0 && COPY > O, "the bundle has a patient with three images, the copy after the original");
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
  const context = await browser.newContext();
  await ownHostOnly(context);
  page = await context.newPage();
  await page.goto(URL_);
  await page.waitForSelector("#query");
  await page.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]'), null, { timeout: 120_000 });
});

after(async () => {
  await browser?.close();
});

test("Find similar leaves out the query image's patient by default; the toggle brings the precomputed neighbours back", async () => {
  assert.equal(nn.ids[O][0], COPY, "the copy is the original's nearest neighbour");
  await open(`similar=${O}`, `similar:${O}`);
  // a neighbour is of the query's patient: ranked live, with that patient's images (and the query) left out
  assert.equal(await pathOf(page), "row");
  const toggle = page.locator('[data-testid="same-patient-toggle"]');
  assert.equal(await toggle.isChecked(), false);
  assert.ok(await page.isVisible("text=Include this patient's other images"));
  const got = await flat(page);
  same(got, rankedBy(O, (r) => meta[r].patient_id !== P).slice(0, 10), "similar, patient left out");
  assert.ok(got.every((r) => !r.filename.startsWith(`${P}-`) && r.filename !== meta[O].filename));
  await toggle.check();
  await waitKey(page, `similar:${O}&same=1`);
  assert.match(page.url(), /[?&]same=1(&|$)/);
  assert.equal(await pathOf(page), "neighbors");
  const all = await flat(page);
  assert.deepEqual(all.map((r) => r.filename), nn.ids[O].map((i) => meta[i].filename));
  assert.equal(all[0].filename, meta[COPY].filename);
});

test("Search with this image: the query first, its patient's other images left out; with them, they group under it", async () => {
  await open(`like=${O}`, `like:${O}`);
  const alone = await flat(page);
  same(alone, rankedBy(O, (r) => r === O || meta[r].patient_id !== P).slice(0, 10), "like, patient left out");
  assert.equal(alone[0].filename, meta[O].filename);

  await open(`like=${O}&same=1`, `like:${O}&same=1`);
  const want = rankedBy(O).slice(0, 10);
  const mine = want.filter((r) => meta[r.row].patient_id === P);
  assert.ok(mine.length >= 2 && want[1].row === COPY, "the copy ranks second, after the query itself");
  // folded: one card for patient P, at its best image's rank, with "+N more images of this patient"
  const folded = await cards(page);
  const leads = want.map((r, i) => ({ r, rank: i + 1 })).filter((x) => !mine.slice(1).includes(x.r));
  assert.deepEqual(folded.map((c) => c.rank), leads.map((x) => x.rank));
  assert.equal(folded.length, 10 - (mine.length - 1));
  assert.ok(!folded.some((c) => c.filename === meta[COPY].filename), "the copy is folded under the query image");
  const lead = page.locator('[data-testid="result"][data-rank="1"]');
  assert.equal(await lead.getAttribute("data-filename"), meta[O].filename);
  const more = lead.locator('[data-testid="group-more"]');
  assert.equal(await more.getAttribute("aria-expanded"), "false");
  const n = mine.length - 1;
  assert.equal((await more.textContent()).trim(), `+${n} more image${n === 1 ? "" : "s"} of this patient`);
  // unfolded: the patient's other images follow it, each with its own rank
  await more.click();
  assert.equal(await more.getAttribute("aria-expanded"), "true");
  const controls = (await more.getAttribute("aria-controls")).split(" ");
  assert.equal(controls.length, n);
  for (const id of controls) assert.equal(await page.locator(`[id="${id}"]`).getAttribute("data-same-as"), "1");
  const shown = await cards(page);
  assert.deepEqual(shown.slice(1, 1 + n).map((c) => [c.filename, c.sameAs]), mine.slice(1).map((r) => [r.filename, "1"]));
  same(await flat(page), want, "like, every image");
  // grouping off: a card per image in rank order, and no new search (the display only)
  const ms = await page.$eval('[data-testid="result-path"]', (e) => e.dataset.totalMs);
  await page.locator('[data-testid="group-toggle"]').uncheck();
  await page.waitForFunction(() => new URLSearchParams(location.hash.split("?")[1] ?? "").get("group") === "0");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="result"]').length === 10);
  assert.deepEqual((await cards(page)).map((c) => c.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(await page.locator('[data-testid="group-more"]').count(), 0);
  assert.equal(await page.$eval('[data-testid="result-path"]', (e) => e.dataset.totalMs), ms);
});

test("label filters any of / all of / none of equal medmir search", async () => {
  const q = "cardiac silhouette is enlarged";
  await reset();
  const pair = meta.find((m) => m.labels.length >= 2).labels.slice(0, 2);
  await open(`q=${encodeURIComponent(q)}&all=${encodeURIComponent(pair.join("|"))}`, `q:${q}`);
  assert.equal(await pathOf(page), "live");
  same(await flat(page), python(q, "--k", "10", "--all-labels", pair[0], "--all-labels", pair[1]), `all of ${pair}`);
  await reset();
  await open(`q=${encodeURIComponent(q)}&inc=${encodeURIComponent(pair[0])}&exc=${encodeURIComponent(pair[1])}`, `q:${q}`);
  same(await flat(page), python(q, "--k", "10", "--any-label", pair[0], "--no-label", pair[1]), `${pair[0]}, not ${pair[1]}`);
  // the select shows each label's mode
  await page.$eval("details", (d) => (d.open = true));
  const mode = (l) => page.locator(`label[data-label="${l}"] select`).inputValue();
  assert.deepEqual([await mode(pair[0]), await mode(pair[1])], ["include", "exclude"]);
});

test("age, sex and view filters: the flat ranking filtered by the metadata; counts among the results; a link reproduces it", async () => {
  const q = "small left apical pneumothorax";
  const ages = meta.map((m) => m.age).filter((a) => typeof a === "number").sort((a, b) => a - b);
  const [lo, hi] = [ages[Math.floor(ages.length / 5)], ages[Math.floor((ages.length * 4) / 5)]];
  const sexes = groupBy(meta.filter((m) => m.sex), (m) => m.sex);
  const sex = [...sexes.keys()].sort((a, b) => sexes.get(b).length - sexes.get(a).length)[0];
  const keep = (m) => typeof m.age === "number" && m.age >= lo && m.age <= hi && m.sex === sex && m.view === "PA";
  const want = python(q, "--k", String(info.count)).filter((r) => keep(meta[r.row])).slice(0, 10);
  assert.ok(want.length > 0, "some image passes the filters");
  await reset();
  await open(`q=${encodeURIComponent(q)}&age=${lo}-${hi}&sex=${sex}&view=PA`, `q:${q}`);
  assert.equal(await pathOf(page), "live");
  const got = await flat(page);
  same(got, want, `age ${lo}-${hi}, sex ${sex}, view PA`);
  // next to each value: its count among the results shown and in the collection
  await page.$eval("details", (d) => (d.open = true));
  const count = (field, value) =>
    page.locator(`fieldset[data-field="${field}"] label`, { hasText: value }).locator("[data-shown]").evaluate((e) => [Number(e.dataset.shown), Number(e.dataset.total)]);
  assert.deepEqual(await count("sex", sex), [got.length, sexes.get(sex).length]);
  assert.deepEqual(await count("view", "PA"), [got.length, meta.filter((m) => m.view === "PA").length]);
  assert.equal(await page.locator('fieldset[data-field="sex"] input:checked').count(), 1);
  assert.equal(await page.inputValue('input[aria-label="Minimum age in years"]'), String(lo));
  // the link in another page: the same results
  const other = await page.context().newPage();
  await other.goto(page.url());
  await waitKey(other, `q:${q}`);
  assert.deepEqual((await flat(other)).map((r) => r.filename), want.map((r) => r.filename));
  await other.close();
  // next to the upload: an uploaded image cannot be put in a link
  assert.match(await page.textContent('[data-testid="upload-link-note"]'), /cannot be put in a link/);
});
