// What the search page offers around its results: export (CSV, JSON), the evidence of an image query (the labels of
// its nearest images), refining by example (the marks, words added to an image) and keyboard moves in the grid.
import { useEffect, useState, type FormEvent, type KeyboardEvent } from "react";
import { visibleText } from "../../lib/site/display";
import { countText, labelCounts } from "../../lib/results/evidence";
import { exportRows, toCsv, toJson } from "../../lib/results/exportResults";
import type { SearchResult } from "../../lib/protocol/searchClient";
import { ADD_WORDS_WEIGHT, EXCLUDE_WEIGHT, ROCCHIO } from "../../lib/query/composeWeights";
import { columnsOf, nextIndex } from "./resultKeys";

export const REFINE_HELP =
  `Mark results + (relevant) or − (not relevant) to refine: the query moves to ` +
  `normalize(${ROCCHIO.alpha}·q + ${ROCCHIO.beta}·mean(+) − ${ROCCHIO.gamma}·mean(−)) ` +
  `(Rocchio's classic weights) and the whole collection is ranked again on this device. The marks are in the link.`;

export const COMPOSE_HELP =
  `Exclude a finding with a minus: “effusion -cardiomegaly” searches for normalize(e(effusion) − ${EXCLUDE_WEIGHT}·e(cardiomegaly)); ` +
  `quotes keep a leading minus literal, as in "-2 cm" nodule. Composed queries always run live.`;

export const ADD_WORDS_HELP = `The image and the words together: normalize(e(image) + ${ADD_WORDS_WEIGHT}·e(words)).`;

export const DISCLAIMER = "For research and education, not a diagnosis.";

/** A file made in the page and saved by the browser: nothing is sent anywhere. */
function save(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ExportButtons({ result, query }: { result: SearchResult; query: string }) {
  const rows = () => exportRows(result.hits, result.rows, result.path);
  const cls = "rounded border border-slate-400 bg-white px-2 py-1 text-xs text-slate-800 hover:bg-slate-100";
  return (
    <div className="flex flex-wrap items-center gap-2" data-testid="export">
      <span className="text-xs text-slate-700">Export these results:</span>
      <button type="button" className={cls} onClick={() => save(toCsv(rows()), "medmir-results.csv", "text/csv;charset=utf-8")}>
        Download CSV
      </button>
      <button type="button" className={cls} onClick={() => save(toJson(rows(), query), "medmir-results.json", "application/json")}>
        Download JSON
      </button>
    </div>
  );
}

/** The label counts among an image query's shown neighbours, with the research-use note beside them. */
export function EvidencePanel({ result }: { result: SearchResult }) {
  const k = Math.min(result.hits.length, result.rows.length);
  if (k === 0) return null;
  const counts = labelCounts(result.rows.slice(0, k));
  return (
    <section aria-labelledby="evidence-heading" data-testid="evidence" data-k={k} className="mb-3 rounded border border-slate-300 bg-white p-3 text-sm">
      <h3 id="evidence-heading" className="font-medium">
        Labels among the {k} nearest images
      </h3>
      <p data-testid="disclaimer" className="text-xs font-medium text-amber-900">
        {DISCLAIMER} These are the labels of similar collection images, not findings in the query image.
      </p>
      <ul className="mt-1 flex flex-wrap gap-x-4 gap-y-1">
        {counts.map((c) => (
          <li key={c.label} data-label={c.label} data-count={c.count} className="min-w-0 wrap-anywhere">
            {visibleText(countText(c, k))}
          </li>
        ))}
        {counts.length === 0 && <li>No labels among them.</li>}
      </ul>
    </section>
  );
}

interface RefineBarProps {
  pos: readonly number[];
  neg: readonly number[];
  /** the marked rows' file names, as the worker sent them */
  names: Map<number, string>;
  onUnmark: (id: number, mark: "pos" | "neg") => void;
  onClear: () => void;
  /** image and row queries: words can be added */
  addWords: string | null;
  onAddWords: (words: string) => void;
}

/** The marks (each removable, also when its image ranked out of the list) and, for image queries, words to add. */
export function RefineBar({ pos, neg, names, onUnmark, onClear, addWords, onAddWords }: RefineBarProps) {
  const [words, setWords] = useState(addWords ?? "");
  useEffect(() => setWords(addWords ?? ""), [addWords]);
  const marks = [...pos.map((id) => ({ id, mark: "pos" as const })), ...neg.map((id) => ({ id, mark: "neg" as const }))];
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onAddWords(words);
  };
  return (
    <div className="mb-3 space-y-2 text-sm" data-testid="refine">
      {marks.length > 0 && (
        <div className="flex flex-wrap items-center gap-2" data-testid="marks">
          <span className="text-slate-700">Refined by your marks:</span>
          {marks.map(({ id, mark }) => (
            <span
              key={`${mark}-${id}`}
              data-mark={mark}
              data-id={id}
              className={`inline-flex min-w-0 items-center gap-1 rounded px-2 py-0.5 text-xs ${mark === "pos" ? "bg-emerald-50 text-emerald-900" : "bg-rose-50 text-rose-900"}`}
            >
              <span className="wrap-anywhere">
                {mark === "pos" ? "+" : "−"} {visibleText(names.get(id) ?? `image ${id}`)}
              </span>
              <button
                type="button"
                className="rounded px-1 underline"
                aria-label={`Remove the mark on ${visibleText(names.get(id) ?? `image ${id}`)}`}
                onClick={() => onUnmark(id, mark)}
              >
                remove
              </button>
            </span>
          ))}
          <button type="button" className="rounded border border-slate-400 bg-white px-2 py-0.5 text-xs hover:bg-slate-100" onClick={onClear}>
            Clear marks
          </button>
        </div>
      )}
      {addWords !== null && (
        <form onSubmit={submit} className="flex flex-wrap items-center gap-2" data-testid="add-words">
          <label htmlFor="add-words" className="text-slate-700">
            This image + words:
          </label>
          <input
            id="add-words"
            value={words}
            onChange={(e) => setWords(e.target.value)}
            placeholder="e.g. effusion"
            autoComplete="off"
            className="min-w-48 rounded border border-slate-400 px-2 py-1"
          />
          <button type="submit" className="rounded border border-slate-400 bg-white px-3 py-1 hover:bg-slate-100">
            Add words
          </button>
          <span className="text-xs text-slate-700">{ADD_WORDS_HELP}</span>
        </form>
      )}
      <p className="text-xs text-slate-700">{REFINE_HELP}</p>
    </div>
  );
}

/** Arrow keys, Home and End move the focus through the result cards (from the results heading: into them); Enter on a
 * card opens its Find similar. */
export function onResultKeys(e: KeyboardEvent<HTMLElement>, open: (id: number) => void): void {
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const target = e.target as HTMLElement;
  if (target.closest("input, textarea, select")) return;
  const cards = [...e.currentTarget.querySelectorAll<HTMLElement>('[data-testid="result"]')];
  const card = target.closest<HTMLElement>('[data-testid="result"]');
  const index = card ? cards.indexOf(card) : -1;
  if (target.hasAttribute("data-results-heading")) {
    // from the results heading (focused after each search): into the grid
    const to = ["ArrowDown", "ArrowRight", "Home"].includes(e.key) ? 0 : e.key === "End" ? cards.length - 1 : null;
    if (to === null || !cards[to]) return;
    e.preventDefault();
    cards[to].tabIndex = -1;
    cards[to].focus();
    return;
  }
  if (!card || index < 0) return;
  if (e.key === "Enter") {
    if (target !== card) return; // a link or a button in the card does its own thing
    const id = Number(card.querySelector<HTMLElement>("[data-result-id]")?.dataset.resultId);
    if (Number.isInteger(id)) {
      e.preventDefault();
      open(id);
    }
    return;
  }
  const next = nextIndex(e.key, index, cards.length, columnsOf(cards.map((c) => c.offsetTop)));
  if (next === null) return;
  e.preventDefault();
  const el = cards[next]!;
  el.tabIndex = -1;
  el.focus();
}
