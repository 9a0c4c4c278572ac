// What the end-to-end test files share: their inputs (environment variables set by tests/test_e2e.py), the Python
// CLI the pages are checked against, how Debian's Chromium is started (the flags the project's browser tests use;
// never a downloaded browser), and how a test drives the search page.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** An input the Python side passes; missing means the file was run on its own. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through tests/test_e2e.py`);
  return v;
};

/** The Python CLI (`python -m medmir.cli ...args`, with the interpreter tests/test_e2e.py runs): its stdout. */
export function medmir(...args) {
  return execFileSync(env("E2E_PYTHON"), ["-m", "medmir.cli", ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
}

export const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** Every request to a host but 127.0.0.1 (blob: and data: URLs are the page's own) fails, and is listed in
 * `foreign`: the site may ask no other host for anything. */
export async function ownHostOnly(context, foreign = []) {
  await context.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.protocol !== "blob:" && u.protocol !== "data:" && u.hostname !== "127.0.0.1") {
      foreign.push(u.href);
      return route.abort();
    }
    return route.continue();
  });
}

export const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

// The search page as the tests drive it: results and how they were answered are read from its data attributes.

/** The page has loaded the model and the index. */
export async function waitReady(p) {
  await p.waitForSelector("#query");
  await p.waitForFunction(() => !document.querySelector('[aria-label="Loading the model and the index"]'), null, { timeout: 120_000 });
}

/** The shown results answer the request `key` (the previous results stay on screen until the new ones arrive). */
export const waitKey = (p, key) =>
  p.waitForFunction((k) => document.querySelector('[data-testid="result-path"]')?.dataset.key === k, key, { timeout: 120_000 });

/** The result cards shown, in page order. */
export async function results(p) {
  return p.$$eval('[data-testid="result"]', (els) =>
    els.map((e) => ({ rank: Number(e.dataset.rank), filename: e.dataset.filename, score: Number(e.dataset.score) })),
  );
}

/** Words typed and entered: the results that answer them. */
export async function search(p, q) {
  await p.fill("#query", q);
  await p.press("#query", "Enter");
  await waitKey(p, `q:${q}`);
  return results(p);
}

/** How the shown results were answered (exact, live, image, ...). */
export const pathOf = (p) => p.$eval('[data-testid="result-path"]', (e) => e.dataset.path);
