// End-to-end for bundle format version 2 (docs/FORMAT.md): int8 shards loaded progressively, neighbours and
// thumbnails read by HTTP Range, every file fetched once. Run by tests/test_e2e.py (test_v2_site_in_chromium), which
// writes a version 2 bundle with small shards and packs (so a 40-image site has several of each), makes a site,
// serves it with `medmir serve` (Range) and with a plain static server that ignores Range, and passes the paths here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { env, FLAGS, medmir, results, search } from "./common.mjs";

const URL_ = env("E2E_URL");
const PLAIN_URL = env("E2E_PLAIN_URL"); // the same site from a server that ignores Range
const BUNDLE = env("E2E_BUNDLE");
const PACK = env("E2E_PACK");
const IMAGE = env("E2E_IMAGE");
const SCORE_TOL = 1e-5;

const info = JSON.parse(readFileSync(join(BUNDLE, "index_info.json"), "utf8"));
const python = (q, ...extra) => JSON.parse(medmir("search", ...q, "--bundle", BUNDLE, "--model", PACK, "--k", "10", "--json", ...extra));

let browser;

// `hold`: requests to hold until release(); the service worker is blocked then, so the page's own requests are the
// ones held. Otherwise it runs, as for a user, and requests it makes on the page's behalf are not counted twice.
async function visit(url, { hold } = {}) {
  const context = await browser.newContext(hold ? { serviceWorkers: "block" } : {});
  const requests = [];
  const held = [];
  let holding = Boolean(hold);
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname !== "127.0.0.1") return route.abort();
    if (holding && hold.test(u.pathname)) return new Promise((resolve) => held.push(() => resolve(route.continue())));
    return route.continue();
  });
  context.on("request", (r) => {
    if (!r.serviceWorker()) requests.push({ path: new URL(r.url()).pathname, range: r.headers()["range"] ?? null });
  });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector("#query");
  await page.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]'), null, { timeout: 120_000 });
  const release = () => {
    holding = false;
    held.splice(0).forEach((go) => go());
  };
  return { context, page, requests, release };
}

/** until every shard is in (a version 2 page is ready after the first one) */
async function allLoaded(page) {
  await page.waitForFunction(() => !document.querySelector('[data-testid="loading-rest"]'), null, { timeout: 60_000 });
}

function sameAsPython(got, want, what) {
  assert.deepEqual(got.map((r) => r.filename), want.map((r) => r.filename), what);
  got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].score) < SCORE_TOL, `${what}: score ${r.score} vs ${want[i].score}`));
}

/** every thumbnail of the results shown has its bytes (blob: URLs of parts of the packs); those on screen are drawn
 * (the others load lazily on scroll) */
async function thumbnailsShown(page) {
  await page.waitForFunction(() => {
    const cards = document.querySelectorAll('[data-testid="result"]');
    const imgs = [...document.querySelectorAll('[data-testid="result"] img')];
    return imgs.length === cards.length && imgs.every((i) => i.src.startsWith("blob:")) && imgs.slice(0, 2).every((i) => i.complete && i.naturalWidth > 0);
  }, null, { timeout: 60_000 });
  return page.$$eval('[data-testid="result"] img', (imgs) => imgs.map((i) => i.src));
}

before(async () => {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
});

after(async () => {
  await browser?.close();
});

test("version 2: live search equals medmir search, thumbnails by Range, every file fetched once", async () => {
  const { context, page, requests } = await visit(URL_);
  assert.equal(await page.$eval('[data-testid="random-banner"]', () => true), true);
  await allLoaded(page);
  for (const q of ["enlarged heart shadow with fluid in both costophrenic recesses", "rounded nodule in the left upper zone"]) {
    const got = await search(page, q);
    assert.equal(await page.$eval('[data-testid="result-path"]', (e) => e.dataset.path), "live");
    sameAsPython(got, python([q]), q);
    assert.equal(await page.$eval('[data-testid="result-path"]', (e) => e.dataset.kernel), "wasm-simd-int8");
    assert.equal(await page.$('[data-testid="partial"]'), null, "complete once every shard is in");
  }
  const srcs = await thumbnailsShown(page);
  assert.ok(srcs.every((s) => s.startsWith("blob:")), srcs.join(" "));
  const packs = requests.filter((r) => /\/data\/thumbs-\d+\.pack$/.test(r.path));
  assert.ok(packs.length > 0 && packs.every((r) => /^bytes=\d+-\d+$/.test(r.range)), JSON.stringify(packs));
  // each whole file once (index_info.json and the manifest included); only Range reads may repeat a path
  const whole = requests.filter((r) => !r.range && /\/(data|model)\//.test(r.path)).map((r) => r.path);
  const twice = whole.filter((p, i) => whole.indexOf(p) !== i);
  assert.deepEqual(twice, [], `fetched more than once: ${twice.join(", ")}`);
  const shards = Object.keys(info.files).filter((f) => /^embeddings-\d+\.i8$/.test(f));
  assert.ok(shards.length >= 3, "the test bundle has several shards");
  for (const f of shards) assert.ok(whole.includes(`/data/${f}`), `${f} loaded`);
  assert.ok(!whole.some((p) => /vision/.test(p)), "the vision model loads only when an image search is near");

  // a repeat visit reads every data file from the device's store: only the two contracts go to the network
  requests.length = 0;
  await page.reload();
  await page.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]') && document.querySelector("#query"), null, { timeout: 120_000 });
  const again = requests.filter((r) => !r.range && /\/(data|model)\//.test(r.path)).map((r) => r.path).sort();
  assert.deepEqual(again, ["/data/index_info.json", "/model/manifest.json"]);
  // the store is the origin private file system: one file per sha256, the text model and every shard among them
  const kept = await page.evaluate(async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("medmir-files");
    const names = [];
    for await (const [, site] of root.entries()) for await (const name of site.keys()) names.push(name);
    return names;
  });
  const manifest = JSON.parse(readFileSync(join(PACK, "manifest.json"), "utf8"));
  for (const f of shards) assert.ok(kept.includes(info.files[f].sha256), `${f} kept in OPFS`);
  assert.ok(kept.includes(manifest.files[manifest.models.text.int8].sha256), "the text model kept in OPFS");
  await context.close();
});

test("version 2: Find Similar shows the bundle's neighbours, read by Range", async () => {
  const { context, page, requests } = await visit(URL_);
  const row = info.count - 1; // in the last shard
  await page.goto(`${URL_}#/?similar=${row}`);
  await page.waitForFunction((r) => document.querySelector('[data-testid="result-path"]')?.dataset.key === `similar:${r}`, row, { timeout: 60_000 });
  assert.equal(await page.$eval('[data-testid="result-path"]', (e) => e.dataset.path), "neighbors");
  const k = info.neighbors.k;
  const shard = Math.floor(row / info.shard_rows);
  const name = `neighbors-${String(shard).padStart(3, "0")}.i32`;
  const buf = readFileSync(join(BUNDLE, name));
  const ids = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)).slice((row - shard * info.shard_rows) * k, (row - shard * info.shard_rows + 1) * k);
  const meta = JSON.parse(readFileSync(join(BUNDLE, "metadata.json"), "utf8"));
  const got = await results(page);
  assert.deepEqual(got.map((r) => r.filename), [...ids].map((i) => meta.columns.filename[i]));
  assert.ok(requests.some((r) => r.path === `/data/${name}` && r.range), "neighbours by Range");
  await thumbnailsShown(page);
  await context.close();
});

test("version 2: results say they are partial while shards load, and are complete after", async () => {
  const { context, page, release } = await visit(URL_, { hold: /\/data\/embeddings-00[1-9]\.i8$/ });
  const q = "faint opacity near the left hilum on this radiograph";
  const got = await search(page, q);
  assert.equal(await page.$eval('[data-testid="result-path"]', (e) => e.dataset.path), "live");
  const partial = await page.$eval('[data-testid="partial"]', (e) => ({ searched: Number(e.dataset.searched), of: Number(e.dataset.of) }));
  assert.deepEqual(partial, { searched: info.shard_rows, of: info.count });
  assert.ok(await page.isVisible('[data-testid="loading-rest"]'));
  const meta = JSON.parse(readFileSync(join(BUNDLE, "metadata.json"), "utf8"));
  const first = new Set(meta.columns.filename.slice(0, info.shard_rows));
  assert.ok(got.length > 0 && got.every((r) => first.has(r.filename)), "only loaded rows are ranked");
  release();
  await allLoaded(page);
  const q2 = "tiny calcified granuloma in the right lower zone";
  sameAsPython(await search(page, q2), python([q2]), q2);
  assert.equal(await page.$('[data-testid="partial"]'), null);
  await context.close();
});

test("version 2: an image search equals medmir search --image", async () => {
  const { context, page } = await visit(URL_);
  await allLoaded(page);
  await page.setInputFiles('[data-testid="upload"]', IMAGE);
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.path === "image", null, { timeout: 120_000 });
  // the browser's decode and resize differ from Pillow's by rounding: the same top 10, scores within the query's
  // own difference (the version 1 test pins the query embedding's cosine)
  const got = await results(page);
  const want = python(["--image", IMAGE]);
  assert.deepEqual(new Set(got.map((r) => r.filename)), new Set(want.map((r) => r.filename)));
  await context.close();
});

test("version 2: a host that ignores Range: whole packs, each fetched once, thumbnails still shown", async () => {
  const { context, page, requests } = await visit(PLAIN_URL);
  await search(page, "enlarged heart shadow with fluid in both costophrenic recesses");
  await thumbnailsShown(page);
  await page.goto(`${PLAIN_URL}#/?similar=0`);
  await page.waitForFunction(() => document.querySelector('[data-testid="result-path"]')?.dataset.key === "similar:0", null, { timeout: 60_000 });
  await thumbnailsShown(page);
  const packs = requests.filter((r) => /\/data\/(thumbs-\d+\.pack|neighbor)/.test(r.path));
  // the first request learns the host ignores Range; from then on whole files, each once
  const wholes = packs.slice(1).map((r) => r.path);
  assert.ok(packs.slice(1).every((r) => !r.range), JSON.stringify(packs));
  assert.deepEqual(wholes.filter((p, i) => wholes.indexOf(p) !== i), []);
  await context.close();
});

test("version 2: the Hard cases page shows thumbnails from the packs", async () => {
  const { context, page } = await visit(URL_);
  await page.goto(`${URL_}#/hard-cases`);
  await page.waitForSelector('[data-testid="retrieved"]', { timeout: 60_000 });
  // every thumbnail has its bytes (blob: URLs); the ones on screen are drawn (the rest load lazily on scroll)
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('[data-testid="retrieved"] img')];
    return imgs.length === document.querySelectorAll('[data-testid="retrieved"]').length && imgs.every((i) => i.src.startsWith("blob:")) &&
      imgs.slice(0, 3).every((i) => i.complete && i.naturalWidth > 0);
  }, null, { timeout: 60_000 });
  await context.close();
});
