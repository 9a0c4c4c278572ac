import { useState } from "react";
import type { SearchClient } from "../lib/protocol/searchClient";
import type { BenchResult, ReadyInfo, ThreadReason } from "../lib/protocol/messages";

const THREAD_REASON: Record<ThreadReason, string> = {
  single: "threads need cross-origin isolation and 2+ cores",
  default: "first visit: 1 thread until measured",
  explore: "measuring this count on this device",
  measured: "the fastest measured on this device",
};

/** In-browser timings: repeated runs, median and p95, downloadable as JSON. */
export function BenchmarkPage({ client, ready }: { client: SearchClient; ready: ReadyInfo | null }) {
  const [runs, setRuns] = useState(10);
  const [query, setQuery] = useState("bilateral pleural effusion with cardiomegaly");
  const [result, setResult] = useState<BenchResult | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function start() {
    setBusy(true);
    setError(null);
    try {
      setResult(await client.bench(runs, query));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  const download = () => {
    if (!result) return;
    const blob = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "medmir-browser-benchmark.json";
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <section aria-labelledby="bench-title">
      <h1 id="bench-title" className="mb-2 text-lg font-semibold">
        Benchmark this browser
      </h1>
      <p className="mb-4 text-sm text-slate-700">
        Times the tokenizer, the INT8 text embedding, the ranking over every image, and image preprocessing + INT8
        image embedding, each run {runs} times on this device.
      </p>
      <div className="flex flex-wrap items-end gap-3">
        <label className="flex flex-col text-sm">
          Query
          <input value={query} onChange={(e) => setQuery(e.target.value)} className="w-96 rounded border border-slate-300 p-1" />
        </label>
        <label className="flex flex-col text-sm">
          Runs
          <input
            type="number"
            min={1}
            max={200}
            value={runs}
            onChange={(e) => setRuns(Math.max(1, Math.min(200, Number(e.target.value) || 1)))}
            className="w-24 rounded border border-slate-300 p-1"
          />
        </label>
        <button type="button" disabled={!ready || busy} onClick={() => void start()} className="rounded bg-sky-700 px-4 py-2 text-white disabled:opacity-50">
          {busy ? "Running…" : ready ? "Run benchmark" : "Waiting for the model…"}
        </button>
        {result && (
          <button type="button" onClick={download} className="rounded border border-slate-300 bg-white px-4 py-2">
            Download JSON
          </button>
        )}
      </div>
      {error && (
        <p role="alert" className="mt-3 text-sm text-red-800">
          {error}
        </p>
      )}
      {result && <BenchTable result={result} />}
    </section>
  );
}

/** Each step's median and p95 over the runs, with the thread count and warm-ups the run had. */
function BenchTable({ result }: { result: BenchResult }) {
  return (
    <table className="mt-4 text-sm" data-testid="bench-table">
      <caption className="mb-1 text-left text-xs text-slate-600">
        {result.count} images · {result.threads} WASM thread(s) ({THREAD_REASON[result.threadReason]}) · cross-origin isolated:{" "}
        {String(result.crossOriginIsolated)} · warm-up:{" "}
        {result.warm.map((w) => `${w.model} ${w.runs} run(s), then ${w.steadyMs.toFixed(1)} ms`).join("; ") || "not finished"}
      </caption>
      <thead>
        <tr>
          <th scope="col" className="pr-6 text-left">step</th>
          <th scope="col" className="pr-6 text-right">median ms</th>
          <th scope="col" className="pr-6 text-right">p95 ms</th>
          <th scope="col" className="text-right">runs</th>
        </tr>
      </thead>
      <tbody>
        {result.stats.map((s) => (
          <tr key={s.name}>
            <th scope="row" className="pr-6 text-left font-normal">{s.name}</th>
            <td className="pr-6 text-right font-mono">{s.medianMs.toFixed(2)}</td>
            <td className="pr-6 text-right font-mono">{s.p95Ms.toFixed(2)}</td>
            <td className="text-right font-mono">{s.runs}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
