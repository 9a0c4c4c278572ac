// What every end-to-end test file shares: its inputs (environment variables set by tests/test_e2e.py) and how
// Debian's Chromium is started (the flags the project's browser tests use; never a downloaded browser).

/** An input the Python side passes; missing means the file was run on its own. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set: run this through tests/test_e2e.py`);
  return v;
};

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
