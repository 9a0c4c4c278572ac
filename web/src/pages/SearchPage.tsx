// The search page: a text, an image (or DICOM) or a collection row as the query, the filters, the results. Its state
// is the URL (search/params.ts), so a link reproduces the search; the parts are in search/.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { RefineContext, type RefineState } from "../components/ResultActions";
import { visibleText } from "../lib/display";
import { namedDicom } from "../lib/dicom/detect";
import type { ScoreBands } from "../lib/bands";
import type { SearchClient } from "../lib/searchClient";
import { decodeUpload, previewUrl } from "../lib/upload";
import type { ReadyInfo } from "../worker/messages";
import { FilterPanel } from "./search/FilterPanel";
import { filtersFrom, groupedFrom, rowQueryFilters, samePatientFrom, searchKey, setGroupParam, setQueryParam, setSameParam } from "./search/params";
import { ResultOptions } from "./search/ResultOptions";
import { resultCounts } from "../lib/resultCounts";
import { clearMarks, composedPlan, isImageQuery, marksFrom, setAddWords, setImageBase, toggleMark } from "./search/refineParams";
import { PAGE, ResultsSection } from "./search/ResultsSection";
import { EvidencePanel, ExportButtons, RefineBar } from "./search/ResultTools";
import { SearchForm } from "./search/SearchForm";
import { useSearchRun } from "./search/useSearchRun";

interface Props {
  client: SearchClient;
  ready: ReadyInfo | null;
  params: URLSearchParams;
  navigate: (p: URLSearchParams) => void;
  /** the bundle's score bands (index_info.json), for each result's band and "no confident match" */
  scoreBands?: ScoreBands | undefined;
}

export function SearchPage({ client, ready, params, navigate, scoreBands }: Props) {
  const q = params.get("q") ?? "";
  const similar = params.get("similar");
  const like = params.get("like");
  const pages = Math.max(1, Number(params.get("pages") ?? "1") || 1);
  const filters = filtersFrom(params);
  const [text, setText] = useState(q);
  const [upload, setUpload] = useState<{ url: string; name: string } | null>(null);
  const { result, resultKey, error, busy, run, fail, clear, clearError } = useSearchRun();
  const filterKey = params.toString();
  const marks = marksFrom(params);
  // the URL an upload's search moved to (img=1): its results are already shown, so that URL is not searched again
  const skipSearch = useRef<string | null>(null);

  useEffect(() => setText(q), [q]);
  // a row query's key says when it keeps the query image's patient's other images (same=1)
  const sameTag = samePatientFrom(params) ? "&same=1" : "";

  // URL state drives the search, so every result page can be shared or bookmarked
  useEffect(() => {
    const k = pages * PAGE;
    const skip = skipSearch.current === filterKey;
    skipSearch.current = null;
    if (skip) return;
    // words with exclusions, an image plus words, marked results: composed in the worker, always live
    const plan = composedPlan(params);
    if (plan?.error !== undefined) {
      fail(plan.key, new Error(plan.error));
    } else if (plan) {
      const b = plan.spec.base;
      void run(plan.key, () => client.compose(plan.spec, k, b.kind === "row" ? rowQueryFilters(params, b.row) : filters));
    } else if (similar !== null) {
      // the query image's patient's other images left out unless same=1 (the precomputed neighbours answer when
      // that leaves out none of them and no filter is set)
      void run(`similar:${similar}${sameTag}`, () => client.similar(Number(similar), k, rowQueryFilters(params, Number(similar))));
    } else if (like !== null) {
      void run(`like:${like}${sameTag}`, () => client.searchVector(Number(like), k, rowQueryFilters(params, Number(like))));
    } else if (q.trim()) {
      void run(`q:${q}`, () => client.search(q, k, filters));
    } else {
      clear();
    }
  }, [searchKey(params)]); // the URL (query, filters, pages; not the display-only grouping) is a search's whole input

  function go(update: (p: URLSearchParams) => void) {
    const p = new URLSearchParams(params);
    update(p);
    navigate(p);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    go((p) => setQueryParam(p, text));
  }

  async function searchFile(file: File) {
    clearError();
    const key = `image:${file.name}`;
    try {
      const img = await decodeUpload(file);
      if (upload) URL.revokeObjectURL(upload.url);
      setUpload({ url: await previewUrl(file, img), name: file.name });
      await run(key, async () => {
        const r = await client.searchImage(img.rgba, img.width, img.height, pages * PAGE, filters);
        // the URL now says "the uploaded image" (img=1): marks and added words start from it
        const p = new URLSearchParams(params);
        setImageBase(p);
        if (p.toString() !== filterKey) {
          skipSearch.current = p.toString();
          navigate(p);
        }
        return r;
      });
    } catch (e) {
      fail(key, e);
    }
  }

  const refine = useMemo<RefineState>(
    () => ({ ...marks, toggle: (id, mark) => go((p) => toggleMark(p, id, mark)) }),
    [filterKey], // the marks and go() follow the URL
  );
  const imageResult = /^(image|like:|similar:)/.test(resultKey);

  useEffect(() => {
    const onPaste = (ev: ClipboardEvent) => {
      const f = [...(ev.clipboardData?.files ?? [])].find((x) => x.type.startsWith("image/") || namedDicom(x.name, x.type));
      if (f) void searchFile(f);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  });

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
      <SearchForm
        client={client}
        text={text}
        setText={setText}
        suggestions={ready?.fallbackQueries ?? []}
        onSubmit={submit}
        onFile={(f) => void searchFile(f)}
      />
      <FilterPanel ready={ready} filters={filters} go={go} shown={result ? resultCounts(result.rows) : null} />

      {upload && (
        <figure className="mt-4 flex items-center gap-3 text-sm">
          <img src={upload.url} alt={`your image ${visibleText(upload.name)}`} className="h-20 w-20 shrink-0 rounded object-cover" />
          <figcaption className="min-w-0 wrap-anywhere">
            Searching with your image <span className="font-mono">{visibleText(upload.name)}</span> (stays on this device, so a link to this page does not include it)
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
        <RefineContext.Provider value={refine}>
          <ResultOptions
            rows={result.rows}
            grouped={groupedFrom(params)}
            onGrouped={(on) => go((p) => setGroupParam(p, on))}
            samePatient={similar !== null || like !== null ? samePatientFrom(params) : null}
            onSamePatient={(on) => go((p) => setSameParam(p, on))}
          />
          <ResultsSection
            scoreBands={scoreBands}
            grouped={groupedFrom(params)}
            client={client}
            ready={ready}
            result={result}
            resultKey={resultKey}
            more={result.hits.length >= pages * PAGE && result.path !== "neighbors" && result.path !== "image"}
            onMore={() => go((p) => p.set("pages", String(pages + 1)))}
            tools={
              <div className="mb-3 space-y-3">
                <ExportButtons result={result} query={resultKey} />
                {imageResult && <EvidencePanel result={result} />}
                <RefineBar
                  pos={marks.pos}
                  neg={marks.neg}
                  names={new Map((result.marked ?? []).map((m) => [m.id, m.filename]))}
                  onUnmark={(id, mark) => go((p) => toggleMark(p, id, mark))}
                  onClear={() => go(clearMarks)}
                  addWords={isImageQuery(params) ? (params.get("add") ?? "") : null}
                  onAddWords={(w) => go((p) => setAddWords(p, w))}
                />
              </div>
            }
          />
        </RefineContext.Provider>
      )}
    </div>
  );
}
