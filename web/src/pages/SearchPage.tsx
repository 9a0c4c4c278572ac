// The search page: a text, an image (or DICOM) or a collection row as the query, the filters, the results. Its state
// is the URL (search/params.ts), so a link reproduces the search; the parts are in search/.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { RefineState } from "../components/ResultActions";
import type { ScoreBands } from "../lib/contracts/bands";
import type { ReadyInfo } from "../lib/protocol/messages";
import type { SearchClient } from "../lib/protocol/searchClient";
import { resultCounts } from "../lib/results/resultCounts";
import { visibleText } from "../lib/site/display";
import { FilterPanel } from "./search/FilterPanel";
import { filtersFrom, pagesFrom, setQueryParam } from "./search/params";
import { marksFrom, toggleMark } from "./search/refineParams";
import { PAGE } from "./search/ResultsSection";
import { SearchForm } from "./search/SearchForm";
import { SearchResults } from "./search/SearchResults";
import { useImageSearch, type Upload } from "./search/useImageSearch";
import { useSearchRun, type SearchError } from "./search/useSearchRun";
import { useUrlSearch } from "./search/useUrlSearch";

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
  const filters = filtersFrom(params);
  const [text, setText] = useState(q);
  const searchRun = useSearchRun();
  const { result, resultKey, error, busy } = searchRun;
  const filterKey = params.toString();
  const marks = marksFrom(params);
  // the URL an upload's search moved to (img=1): its results are already shown, so that URL is not searched again
  const skipSearch = useRef<string | null>(null);

  useEffect(() => setText(q), [q]);
  useUrlSearch(client, params, searchRun, skipSearch);

  function go(update: (p: URLSearchParams) => void) {
    const p = new URLSearchParams(params);
    update(p);
    navigate(p);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    go((p) => setQueryParam(p, text));
  }

  const k = pagesFrom(params) * PAGE;
  const { upload, searchFile } = useImageSearch({ client, params, navigate, k, filters, searchRun, skipSearch });
  const refine = useMemo<RefineState>(
    () => ({ ...marks, toggle: (id, mark) => go((p) => toggleMark(p, id, mark)) }),
    [filterKey], // the marks and go() follow the URL
  );

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
      {upload && <UploadPreview upload={upload} />}
      <SearchStatus waiting={!ready && Boolean(q || upload)} busy={busy} error={error} />
      {result && (
        <SearchResults
          client={client}
          ready={ready}
          params={params}
          go={go}
          scoreBands={scoreBands}
          result={result}
          resultKey={resultKey}
          refine={refine}
        />
      )}
    </div>
  );
}

function UploadPreview({ upload }: { upload: Upload }) {
  return (
    <figure className="mt-4 flex items-center gap-3 text-sm">
      <img src={upload.url} alt={`your image ${visibleText(upload.name)}`} className="h-20 w-20 shrink-0 rounded object-cover" />
      <figcaption className="min-w-0 wrap-anywhere">
        Searching with your image <span className="font-mono">{visibleText(upload.name)}</span> (stays on this device, so a link to this page does not include it)
      </figcaption>
    </figure>
  );
}

/** The model still loading, "Searching…" (in a line always there, see useSearchRun), and the last search's error. */
function SearchStatus({ waiting, busy, error }: { waiting: boolean; busy: boolean; error: SearchError | null }) {
  return (
    <>
      {waiting && <p className="mt-4 text-sm text-slate-600">The model is loading; your search runs as soon as it is ready.</p>}
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
    </>
  );
}
