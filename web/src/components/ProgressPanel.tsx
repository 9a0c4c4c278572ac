import type { ProgressInfo } from "../lib/protocol/messages";

export type FileProgress = ProgressInfo;

export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

/** Download progress in bytes; totals come from the manifests, so they show before the first byte arrives. */
export function ProgressPanel({ files, expected }: { files: Record<string, FileProgress>; expected?: Record<string, number> }) {
  const names = [...new Set([...Object.keys(expected ?? {}), ...Object.keys(files)])];
  const rows = names.map((name) => {
    const p = files[name];
    const total = p?.total ?? expected?.[name] ?? 0;
    return { name, loaded: p?.loaded ?? 0, total, fromCache: p?.fromCache ?? false };
  });
  const loaded = rows.reduce((a, r) => a + r.loaded, 0);
  const total = rows.reduce((a, r) => a + r.total, 0);
  return (
    <section aria-label="Loading the model and the index" className="mb-6 rounded border border-slate-200 bg-white p-4">
      <h2 className="mb-2 text-sm font-semibold">Preparing search on this device</h2>
      <p className="mb-2 text-sm text-slate-700" data-testid="progress-total">
        {formatBytes(loaded)} of {total ? formatBytes(total) : "…"} (downloaded once, then kept in this browser)
      </p>
      <progress className="w-full" max={total || 1} value={loaded} aria-label="total download progress" />
      <ul className="mt-2 space-y-1 text-xs text-slate-600">
        {rows.map((r) => (
          <li key={r.name}>
            {r.name}: {formatBytes(r.loaded)} / {formatBytes(r.total)}
            {r.fromCache ? " (from cache)" : ""}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** After ready, while a version 2 bundle's other shards load: results cover the rows loaded so far. */
export function LoadingRest({ files, loaded, count }: { files: Record<string, FileProgress>; loaded: number; count: number }) {
  const shards = Object.values(files).filter((f) => /^embeddings-\d+\.i8$/.test(f.file));
  const got = shards.reduce((a, f) => a + f.loaded, 0);
  const total = shards.reduce((a, f) => a + f.total, 0);
  return (
    <p role="status" data-testid="loading-rest" data-loaded={loaded} data-count={count} className="mb-4 text-sm text-slate-700">
      Searching {loaded.toLocaleString("en-US")} of {count.toLocaleString("en-US")} images; the rest are loading
      {total ? ` (${formatBytes(got)} of ${formatBytes(total)} so far)` : ""}. Live results say when they cover part of the collection.
    </p>
  );
}
