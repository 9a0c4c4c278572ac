import { memo, useCallback } from "react";
import { visibleText } from "../lib/display";
import type { SearchClient } from "../lib/searchClient";
import type { HitOut, RowInfo } from "../worker/messages";
import { Thumb } from "./Thumb";

export const SCORE_HELP =
  "Cosine similarity between the query and the image embedding (from -1 to 1). It ranks images; it is not a probability and not a diagnosis.";

function ResultCard({ hit, row, rank, client }: { hit: HitOut; row: RowInfo; rank: number; client: SearchClient }) {
  const url = useCallback(() => client.thumbnailUrl(hit.id, row.thumbnail), [client, hit.id, row.thumbnail]);
  const facts = [row.sex, row.age != null ? `${row.age} y` : "", row.view].filter(Boolean).join(" · ");
  return (
    <li
      data-testid="result"
      data-rank={rank}
      data-filename={row.filename}
      data-score={hit.score}
      className="flex min-w-0 flex-col rounded border border-slate-200 bg-white p-2 shadow-sm"
    >
      <Thumb
        url={url}
        alt={visibleText(`${row.filename}: ${row.labels.join(", ") || "no labels"}`)}
        className="aspect-square w-full rounded bg-slate-900 object-contain"
      />
      <div className="mt-2 flex items-baseline justify-between text-sm">
        <span className="font-semibold">#{rank}</span>
        <span title={SCORE_HELP} className="cursor-help font-mono text-slate-700">
          similarity {hit.score.toFixed(3)}
        </span>
      </div>
      <p className="truncate font-mono text-xs text-slate-600" title={visibleText(row.filename)} data-testid="filename">
        {visibleText(row.filename)}
      </p>
      <ul className="mt-1 flex flex-wrap gap-1" aria-label="labels">
        {row.labels.map((l) => (
          <li key={l} className="min-w-0 rounded bg-sky-50 px-1.5 py-0.5 text-xs text-sky-900 wrap-anywhere">
            {visibleText(l)}
          </li>
        ))}
      </ul>
      {row.report && <p className="mt-1 text-xs text-slate-700 wrap-anywhere">{visibleText(row.report)}</p>}
      {facts && <p className="mt-1 text-xs text-slate-600">{visibleText(facts)}</p>}
      <div className="mt-2 flex gap-2 text-xs">
        <a className="text-sky-800 underline" href={`#/?similar=${hit.id}`}>
          Find similar
        </a>
        <a className="text-sky-800 underline" href={`#/?like=${hit.id}`}>
          Search with this image
        </a>
      </div>
    </li>
  );
}

// Memoised: typing in the search box re-renders the page on every key, but not the result cards (their hits and
// rows do not change while the user types).
export const ResultList = memo(function ResultList({ hits, rows, client }: { hits: HitOut[]; rows: RowInfo[]; client: SearchClient }) {
  return (
    <ol className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-4">
      {hits.map((h, i) => {
        const row = rows[i];
        return row ? <ResultCard key={`${h.id}-${i}`} hit={h} row={row} rank={i + 1} client={client} /> : null;
      })}
    </ol>
  );
});
