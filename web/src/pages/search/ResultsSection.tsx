// The answer to a search: how it was answered (path, timings), partial coverage, the results, and "show more".
import { useEffect, useRef, type ReactNode } from "react";
import { restoreMarkFocus } from "../../components/ResultActions";
import { ResultList } from "../../components/ResultList";
import type { ScoreBands } from "../../lib/contracts/bands";
import { bandsFor } from "../../lib/results/confidence";
import { visibleText } from "../../lib/site/display";
import type { SearchClient, SearchResult } from "../../lib/protocol/searchClient";
import type { ReadyInfo } from "../../lib/protocol/messages";
import { onResultKeys } from "./ResultTools";

export const PAGE = 10;
const PATH_TEXT: Record<SearchResult["path"], string> = {
  exact: "precomputed result (exact match)",
  fuzzy: "precomputed result (close match)",
  live: "live inference on this device",
  image: "image search on this device",
  row: "similar to a collection image",
  neighbors: "precomputed neighbours of a collection image",
  composed: "composed query, live on this device",
  refined: "refined by your marks (Rocchio), live on this device",
};

interface Props {
  /** the bundle's score bands (index_info.json); none for older bundles */
  scoreBands?: ScoreBands | undefined;
  client: SearchClient;
  ready: ReadyInfo | null;
  result: SearchResult;
  resultKey: string;
  /** more results can be asked for (not for precomputed neighbours or an uploaded image) */
  more: boolean;
  onMore: () => void;
  /** shown above the results: export, evidence, refining (search/ResultTools.tsx) */
  tools?: ReactNode;
  /** Enter on a focused result card (Find similar) */
  onOpen?: (id: number) => void;
  /** one card per patient, the patient's other results folded under it (lib/results/groups.ts) */
  grouped?: boolean;
}

/** How the search was answered, with its timings as data attributes (read by the end-to-end tests). */
function AnswerPath({ ready, result, resultKey }: Pick<Props, "ready" | "result" | "resultKey">) {
  const t = result.timing;
  return (
    <p
      className="mb-2 text-sm text-slate-700"
      data-testid="result-path"
      data-path={result.path}
      data-key={resultKey}
      data-embed-ms={t.embedMs}
      data-wait-ms={t.waitMs}
      data-load-ms={t.loadMs}
      data-preprocess-ms={t.preprocessMs}
      data-total-ms={t.totalMs}
      data-tokens={result.tokens}
      data-rank-ms={t.rankMs}
      data-kernel={ready?.kernel}
      data-threads={ready?.threads}
      data-thread-reason={ready?.threadReason}
      data-startup={ready ? JSON.stringify(ready.startup) : undefined}
      data-warm={result.warm}
    >
      {PATH_TEXT[result.path]}
      {result.matched ? ` for “${visibleText(result.matched)}”` : ""} · {t.totalMs.toFixed(1)} ms
      {t.embedMs !== undefined ? ` (embedding ${t.embedMs.toFixed(1)} ms, ranking ${t.rankMs.toFixed(1)} ms)` : ""}
      {result.tokens ? ` · ${result.tokens} tokens` : ""}
    </p>
  );
}

export function ResultsSection({ client, ready, result, resultKey, more, onMore, tools, onOpen, grouped = false, scoreBands }: Props) {
  const hits = result.hits;
  const section = useRef<HTMLElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  // after each search: the focus goes to the results heading (a screen reader reads it), or back to the mark button
  // the user pressed, when its card is still shown
  useEffect(() => {
    if (!section.current || !restoreMarkFocus(section.current)) heading.current?.focus({ preventScroll: true });
  }, [result]);
  return (
    <section
      ref={section}
      aria-labelledby="results-heading"
      className="mt-4"
      onKeyDown={(e) => onResultKeys(e, (id) => (onOpen ? onOpen(id) : (window.location.hash = `#/?similar=${id}`)))}
    >
      <h2 id="results-heading" ref={heading} tabIndex={-1} data-results-heading="" className="mb-1 text-lg font-semibold">
        {hits.length === 1 ? "1 result" : `${hits.length} results`}
      </h2>
      <AnswerPath ready={ready} result={result} resultKey={resultKey} />
      {result.coverage && (
        <p data-testid="partial" data-searched={result.coverage.searched} data-of={result.coverage.of} className="mb-2 text-sm text-amber-800">
          Partial: these results cover the first {result.coverage.searched.toLocaleString("en-US")} of{" "}
          {result.coverage.of.toLocaleString("en-US")} images; the rest are still loading. Search again when they are in.
        </p>
      )}
      {tools}
      {result.query && <output hidden data-testid="query-embedding" data-values={JSON.stringify(result.query)} />}
      {hits.length === 0 ? (
        <p data-testid="no-match" className="rounded border border-amber-300 bg-amber-50 p-3 text-sm">
          No results: no image passes the filters and the minimum similarity.
        </p>
      ) : (
        <ResultList hits={hits} rows={result.rows} client={client} grouped={grouped} bands={bandsFor(scoreBands, result.path)} />
      )}
      {more && (
        <button type="button" className="mt-4 rounded border border-slate-300 bg-white px-4 py-2 text-sm hover:bg-slate-100" onClick={onMore}>
          Show {PAGE} more
        </button>
      )}
    </section>
  );
}
