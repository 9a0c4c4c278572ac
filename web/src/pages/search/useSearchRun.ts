// One search at a time on the page: its result, which request it answers, the error of the last one that failed,
// and whether "Searching…" shows.
import { useCallback, useRef, useState } from "react";
import { Cancelled, type SearchResult } from "../../lib/protocol/searchClient";

// "Searching…" shows only for a search slower than this, in a line that is always there: drawing it, and the
// result cards it pushed down, made the browser repaint the page while the model ran, CPU a 2-core device lacks
// (a trace of a live query: main thread and raster busy for a large share of the model's run).
const BUSY_AFTER_MS = 150;

export interface SearchError {
  text: string;
  key: string;
  seq: number;
}

export function useSearchRun() {
  const [result, setResult] = useState<SearchResult | null>(null);
  // which request the shown results answer: until a new search returns, the old results stay on screen
  const [resultKey, setResultKey] = useState("");
  // `key` names the request that failed (as data-key on results) and `seq` counts errors, so a test (or a reader)
  // can tell this upload's error from the previous one's when both say the same thing
  const [error, setError] = useState<SearchError | null>(null);
  const errorSeq = useRef(0);
  const [busy, setBusy] = useState(false);

  const fail = useCallback((key: string, e: unknown) => {
    errorSeq.current += 1;
    setError({ text: e instanceof Error ? e.message : String(e), key, seq: errorSeq.current });
  }, []);

  const run = useCallback(
    async (key: string, job: () => Promise<SearchResult>) => {
      const shown = setTimeout(() => setBusy(true), BUSY_AFTER_MS);
      setError(null);
      try {
        const r = await job();
        setResult(r);
        setResultKey(key);
      } catch (e) {
        if (!(e instanceof Cancelled)) fail(key, e);
      } finally {
        clearTimeout(shown);
        setBusy(false);
      }
    },
    [fail],
  );

  const clear = useCallback(() => setResult(null), []);
  return { result, resultKey, error, busy, run, fail, clear, clearError: () => setError(null) };
}

export type SearchRun = ReturnType<typeof useSearchRun>;
