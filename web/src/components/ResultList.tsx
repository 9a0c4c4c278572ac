import { memo, useCallback, useId, useState } from "react";
import type { Band, KindBands } from "../lib/contracts/bands";
import { BAND_LABEL, bandOf, bandTitle } from "../lib/results/confidence";
import { visibleText } from "../lib/site/display";
import { groupByPatient, moreText } from "../lib/results/groups";
import type { SearchClient } from "../lib/protocol/searchClient";
import type { HitOut, RowInfo } from "../lib/protocol/messages";
import { ConfidenceNotice } from "./ConfidenceNotice";
import { ResultActions } from "./ResultActions";
import { Thumb } from "./Thumb";

export const SCORE_HELP =
  "Cosine similarity between the query and the image embedding (from -1 to 1). It ranks images; it is not a probability and not a diagnosis.";

/** The band of a score as a small chip ("close match", "similar", "related"), its meaning in the tooltip. */
export function BandChip({ band, bands }: { band: Band; bands: KindBands }) {
  const tone = band === "close" ? "bg-emerald-100 text-emerald-900" : band === "similar" ? "bg-sky-100 text-sky-900" : "bg-slate-100 text-slate-700";
  return (
    <span data-testid="band" data-band={band} title={bandTitle(band, bands)} className={`cursor-help rounded px-1.5 py-0.5 text-xs ${tone}`}>
      {BAND_LABEL[band]}
    </span>
  );
}

interface CardProps {
  hit: HitOut;
  row: RowInfo;
  rank: number;
  client: SearchClient;
  bands?: KindBands | undefined;
  /** results grouped by patient: on a patient's best image, the button that shows or hides the other ones */
  group?: { more: number; open: boolean; toggle: () => void; controls: string } | undefined;
  /** an image shown under its patient's best image, which is ranked `sameAs` */
  sameAs?: number | undefined;
  domId?: string | undefined;
}

function ResultCard({ hit, row, rank, client, bands, group, sameAs, domId }: CardProps) {
  const url = useCallback(() => client.thumbnailUrl(hit.id, row.thumbnail), [client, hit.id, row.thumbnail]);
  const facts = [row.sex, row.age != null ? `${row.age} y` : "", row.view].filter(Boolean).join(" · ");
  const band = bandOf(hit.score, bands);
  return (
    <li
      id={domId}
      data-testid="result"
      data-rank={rank}
      data-same-as={sameAs}
      data-filename={row.filename}
      data-score={hit.score}
      data-band={bands ? band : undefined}
      className={`flex min-w-0 flex-col rounded border bg-white p-2 shadow-sm ${sameAs ? "border-dashed border-sky-400" : "border-slate-200"}`}
    >
      <Thumb
        url={url}
        alt={visibleText(`${row.filename}: ${row.labels.join(", ") || "no labels"}`)}
        className="aspect-square w-full rounded bg-slate-900 object-contain"
      />
      <div className="mt-2 flex items-baseline justify-between text-sm">
        <span className="font-semibold">#{rank}</span>
        <span className="flex flex-wrap items-baseline justify-end gap-1">
          <span title={SCORE_HELP} className="cursor-help font-mono text-slate-700">
            similarity {hit.score.toFixed(3)}
          </span>
          {band && bands && <BandChip band={band} bands={bands} />}
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
      {sameAs !== undefined && <p className="mt-1 text-xs text-sky-900">Same patient as #{sameAs}</p>}
      {group && (
        <button
          type="button"
          data-testid="group-more"
          aria-expanded={group.open}
          aria-controls={group.open ? group.controls : undefined}
          onClick={group.toggle}
          className="mt-1 self-start rounded text-xs text-sky-800 underline hover:text-sky-950"
        >
          {group.open ? `Hide the ${group.more === 1 ? "other image" : `${group.more} other images`} of this patient` : moreText(group.more)}
        </button>
      )}
      <div className="mt-2 flex gap-2 text-xs">
        <a className="text-sky-800 underline" href={`#/?similar=${hit.id}`}>
          Find similar
        </a>
        <a className="text-sky-800 underline" href={`#/?like=${hit.id}`}>
          Search with this image
        </a>
      </div>
      <ResultActions id={hit.id} filename={row.filename} />
    </li>
  );
}

interface ListProps {
  hits: HitOut[];
  rows: RowInfo[];
  client: SearchClient;
  /** this collection's score bands for the query's kind (lib/results/confidence.ts `bandsFor`): a band chip on each
   * result and the "no confident match" notice above them; none (the default) shows neither */
  bands?: KindBands | undefined;
  /** one card per patient (its best image) with "+N more images of this patient" (lib/results/groups.ts); ranks stay
   * the images' own. Off (the default): one card per image */
  grouped?: boolean | undefined;
}

const NONE_OPEN: ReadonlySet<string> = new Set();

// Memoised: typing in the search box re-renders the page on every key, but not the result cards (their hits and
// rows do not change while the user types).
export const ResultList = memo(function ResultList({ hits, rows, client, bands, grouped = false }: ListProps) {
  const base = useId();
  // the groups shown unfolded, for these hits only (a new search starts folded)
  const [open, setOpen] = useState<{ hits: HitOut[]; keys: ReadonlySet<string> }>({ hits, keys: NONE_OPEN });
  const opened = open.hits === hits ? open.keys : NONE_OPEN;
  const toggle = (key: string) => {
    const keys = new Set(opened);
    if (!keys.delete(key)) keys.add(key);
    setOpen({ hits, keys });
  };
  const domId = (rank: number) => `${base}-result-${rank}`;
  return (
    <>
      <ConfidenceNotice hits={hits} bands={bands} />
      <ol className="grid grid-cols-1 gap-4 sm:grid-cols-2 lg:grid-cols-4">
        {groupByPatient(hits, rows, grouped).flatMap(({ key, lead, more }) => {
          const isOpen = opened.has(key);
          const group = more.length
            ? { more: more.length, open: isOpen, toggle: () => toggle(key), controls: more.map((m) => domId(m.rank)).join(" ") }
            : undefined;
          return [
            <ResultCard key={`${lead.hit.id}-${lead.rank - 1}`} hit={lead.hit} row={lead.row} rank={lead.rank} client={client} bands={bands} group={group} />,
            ...(isOpen ? more : []).map((m) => (
              <ResultCard
                key={`${m.hit.id}-${m.rank - 1}`}
                hit={m.hit}
                row={m.row}
                rank={m.rank}
                client={client}
                bands={bands}
                sameAs={lead.rank}
                domId={domId(m.rank)}
              />
            )),
          ];
        })}
      </ol>
    </>
  );
});
