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
