import { useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { FacetFilters } from "../components/FacetFilters";
import { ResultList } from "../components/ResultList";
import { visibleText } from "../lib/display";
import { namedDicom } from "../lib/dicom/detect";
import { facetsFrom, hasFacetFilters, setFacetParam } from "../lib/facets";
import { decodeUpload, previewUrl } from "../lib/upload";
import { Cancelled, type SearchClient, type SearchResult } from "../lib/searchClient";
import type { Filters, ReadyInfo } from "../worker/messages";

const PAGE = 10;
// "Searching…" shows only for a search slower than this, in a line that is always there: drawing it, and the
// result cards it pushed down, made the browser repaint the page while the model ran, CPU a 2-core device lacks
// (a trace of a live query: main thread and raster busy for a large share of the model's run).
const BUSY_AFTER_MS = 150;
const PATH_TEXT: Record<SearchResult["path"], string> = {
  exact: "precomputed result (exact match)",
  fuzzy: "precomputed result (close match)",
  live: "live inference on this device",
  image: "image search on this device",
  row: "similar to a collection image",
  neighbors: "precomputed neighbours of a collection image",
};

interface Props {
  client: SearchClient;
  ready: ReadyInfo | null;
  params: URLSearchParams;
  navigate: (p: URLSearchParams) => void;
}

type LabelMode = "any" | "include" | "exclude";

function filtersFrom(params: URLSearchParams): Filters {
  const list = (k: string) => (params.get(k) ?? "").split("|").filter(Boolean);
  const min = Number(params.get("min") ?? "");
  const minScore = Number.isFinite(min) && params.has("min") ? min : -1;
  return { include: list("inc"), exclude: list("exc"), minScore, facets: facetsFrom(params) };
}

export function SearchPage({ client, ready, params, navigate }: Props) {
  const q = params.get("q") ?? "";
  const similar = params.get("similar");
  const like = params.get("like");
  const pages = Math.max(1, Number(params.get("pages") ?? "1") || 1);
  const filters = filtersFrom(params);
  const [text, setText] = useState(q);
  const [result, setResult] = useState<SearchResult | null>(null);
  // which request the shown results answer: until a new search returns, the old results stay on screen
  const [resultKey, setResultKey] = useState("");
  // `key` names the request that failed (as data-key on results) and `seq` counts errors, so a test (or a reader)
  // can tell this upload's error from the previous one's when both say the same thing
  const [error, setError] = useState<{ text: string; key: string; seq: number } | null>(null);
  const errorSeq = useRef(0);
  const [busy, setBusy] = useState(false);
  const [upload, setUpload] = useState<{ url: string; name: string } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const labels = ready?.labels ?? [];
  const filterKey = params.toString();

  useEffect(() => setText(q), [q]);

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

  // URL state drives the search, so every result page can be shared or bookmarked
  useEffect(() => {
    const k = pages * PAGE;
    if (similar !== null) {
      void run(`similar:${similar}`, () => client.similar(Number(similar)));
    } else if (like !== null) {
      void run(`like:${like}`, () => client.searchVector(Number(like), k, filters));
    } else if (q.trim()) {
      void run(`q:${q}`, () => client.search(q, k, filters));
    } else {
      setResult(null);
    }
  }, [filterKey]); // the URL (query, filters, pages) is the whole input of a search

  function go(update: (p: URLSearchParams) => void) {
    const p = new URLSearchParams(params);
    update(p);
    navigate(p);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    go((p) => {
      p.delete("similar");
      p.delete("like");
      p.delete("pages");
      if (text.trim()) p.set("q", text.trim());
      else p.delete("q");
    });
  }

  async function searchFile(file: File) {
    setError(null);
    const key = `image:${file.name}`;
    try {
      const img = await decodeUpload(file);
      if (upload) URL.revokeObjectURL(upload.url);
      setUpload({ url: await previewUrl(file, img), name: file.name });
      await run(key, () => client.searchImage(img.rgba, img.width, img.height, pages * PAGE, filters));
    } catch (e) {
      fail(key, e);
    }
  }

  useEffect(() => {
    const onPaste = (ev: ClipboardEvent) => {
      const f = [...(ev.clipboardData?.files ?? [])].find((x) => x.type.startsWith("image/") || namedDicom(x.name, x.type));
      if (f) void searchFile(f);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  });

  const setLabel = (label: string, mode: LabelMode) =>
    go((p) => {
      const f = filtersFrom(p);
      const inc = f.include.filter((l) => l !== label);
      const exc = f.exclude.filter((l) => l !== label);
      if (mode === "include") inc.push(label);
      if (mode === "exclude") exc.push(label);
      if (inc.length) p.set("inc", inc.join("|"));
      else p.delete("inc");
      if (exc.length) p.set("exc", exc.join("|"));
      else p.delete("exc");
      p.delete("pages");
    });

  const hits = result?.hits ?? [];
  const activeFilters = filters.include.length + filters.exclude.length > 0 || filters.minScore > -1 || hasFacetFilters(filters.facets);

  return (
    <div
      onDragEnter={(e) => {
        if (e.dataTransfer.types.includes("Files")) client.prepareVision();
      }}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        const f = e.dataTransfer.files[0];
        if (f) void searchFile(f);
      }}
    >
      <form onSubmit={submit} role="search" className="flex flex-wrap gap-2">
        <label htmlFor="query" className="sr-only">
          Describe the findings to search for
        </label>
        <input
          id="query"
          name="q"
          list="suggestions"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="e.g. bilateral pleural effusion with cardiomegaly"
          className="min-w-72 flex-1 rounded border border-slate-300 px-3 py-2"
          autoComplete="off"
        />
        <datalist id="suggestions">
          {(ready?.fallbackQueries ?? []).map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <button type="submit" className="rounded bg-sky-700 px-4 py-2 text-white hover:bg-sky-800 focus:outline-2">
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            client.prepareVision(); // loads and warms the vision model while the user picks a file
            fileInput.current?.click();
          }}
          className="rounded border border-slate-300 bg-white px-4 py-2 hover:bg-slate-100"
        >
          Search with an image…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="image/*,.dcm,application/dicom"
          aria-label="Upload an image to search with"
          data-testid="upload"
          className="sr-only"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) void searchFile(f);
            e.target.value = "";
          }}
        />
      </form>
      <p className="mt-1 text-xs text-slate-600">
        Or drop / paste an image (or a DICOM file) anywhere on this page. Images are processed in this browser and
        never uploaded.
      </p>

      <details className="mt-3 rounded border border-slate-200 bg-white p-3 text-sm" open={activeFilters}>
        <summary className="cursor-pointer font-medium">Filters{activeFilters ? " (active)" : ""}</summary>
        <div className="mt-2 grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-5">
          {labels.map((l) => {
            const mode: LabelMode = filters.include.includes(l) ? "include" : filters.exclude.includes(l) ? "exclude" : "any";
            return (
              <label key={l} className="flex min-w-0 flex-col text-xs">
                <span className="wrap-anywhere">{visibleText(l)}</span>
                <select value={mode} onChange={(e) => setLabel(l, e.target.value as LabelMode)} className="rounded border border-slate-300 p-1">
                  <option value="any">any</option>
                  <option value="include">must have</option>
                  <option value="exclude">must not have</option>
                </select>
              </label>
            );
          })}
        </div>
        <FacetFilters
          facets={ready?.facets ?? []}
          selected={filters.facets ?? {}}
          onChange={(name, values) => go((p) => setFacetParam(p, name, values, true))}
        />
        <label className="mt-3 flex items-center gap-2 text-xs">
          Minimum similarity
          <input
            type="number"
            step="0.01"
            min="-1"
            max="1"
            value={filters.minScore > -1 ? filters.minScore : ""}
            placeholder="none"
            onChange={(e) =>
              go((p) => {
                if (e.target.value === "") p.delete("min");
                else p.set("min", e.target.value);
                p.delete("pages");
              })
            }
            className="w-24 rounded border border-slate-300 p-1"
          />
        </label>
      </details>

      {upload && (
        <figure className="mt-4 flex items-center gap-3 text-sm">
          <img src={upload.url} alt={`your image ${visibleText(upload.name)}`} className="h-20 w-20 shrink-0 rounded object-cover" />
          <figcaption className="min-w-0 wrap-anywhere">
            Searching with your image <span className="font-mono">{visibleText(upload.name)}</span> (stays on this device)
          </figcaption>
        </figure>
      )}

      {!ready && (q || upload) && <p className="mt-4 text-sm text-slate-600">The model is loading; your search runs as soon as it is ready.</p>}
      <p className="mt-4 min-h-5 text-sm text-slate-600" role="status">
        {busy ? "Searching…" : ""}
      </p>
      {error && (
        <p
          role="alert"
          data-testid="search-error"
          data-key={error.key}
          data-seq={error.seq}
          className="mt-4 rounded border border-red-300 bg-red-50 p-2 text-sm text-red-900 wrap-anywhere"
        >
          {visibleText(error.text)}
        </p>
      )}

      {result && (
        <section aria-label="Results" className="mt-4">
          <p
            className="mb-2 text-sm text-slate-700"
            data-testid="result-path"
            data-path={result.path}
            data-key={resultKey}
            data-embed-ms={result.timing.embedMs}
            data-wait-ms={result.timing.waitMs}
            data-load-ms={result.timing.loadMs}
            data-preprocess-ms={result.timing.preprocessMs}
            data-total-ms={result.timing.totalMs}
            data-tokens={result.tokens}
            data-rank-ms={result.timing.rankMs}
            data-kernel={ready?.kernel}
            data-threads={ready?.threads}
            data-thread-reason={ready?.threadReason}
            data-startup={ready ? JSON.stringify(ready.startup) : undefined}
            data-warm={result.warm}
          >
            {PATH_TEXT[result.path]}
            {result.matched ? ` for “${visibleText(result.matched)}”` : ""} · {result.timing.totalMs.toFixed(1)} ms
            {result.timing.embedMs !== undefined ? ` (embedding ${result.timing.embedMs.toFixed(1)} ms, ranking ${result.timing.rankMs.toFixed(1)} ms)` : ""}
            {result.tokens ? ` · ${result.tokens} tokens` : ""}
          </p>
          {result.coverage && (
            <p data-testid="partial" data-searched={result.coverage.searched} data-of={result.coverage.of} className="mb-2 text-sm text-amber-800">
              Partial: these results cover the first {result.coverage.searched.toLocaleString("en-US")} of{" "}
              {result.coverage.of.toLocaleString("en-US")} images; the rest are still loading. Search again when they are in.
            </p>
          )}
          {result.query && <output hidden data-testid="query-embedding" data-values={JSON.stringify(result.query)} />}
          {hits.length === 0 ? (
            <p data-testid="no-match" className="rounded border border-amber-300 bg-amber-50 p-3 text-sm">
              No confident match: no image passes the filters and the minimum similarity.
            </p>
          ) : (
            <ResultList hits={hits} rows={result.rows} client={client} />
          )}
          {hits.length >= pages * PAGE && similar === null && result.path !== "image" && (
            <button
              type="button"
              className="mt-4 rounded border border-slate-300 bg-white px-4 py-2 text-sm hover:bg-slate-100"
              onClick={() => go((p) => p.set("pages", String(pages + 1)))}
            >
              Show {PAGE} more
            </button>
          )}
        </section>
      )}
    </div>
  );
}
