// The Hard cases page: queries whose top-1 image carries none of the query's label (hard_cases.json), split into
// semantic matches and true failures, with the top retrieved images and the confusion pairs.
//
// Queries, labels and file names are untrusted data: rendered as React text (and escaped attribute values), never as
// HTML.
//
// Test hooks: data-testid="hard-summary" (data-field count|queries|semantic_matches|true_failures, data-value),
// "hard-case" (data-verdict), "verdict", "retrieved" (data-rank, data-filename), "confusion-pair" (data-recurring).

import { useId, useState } from "react";
import { Thumb } from "../components/Thumb";
import { thumbnailPathFor } from "../lib/contracts/metadata";
import type { ConfusionPair, HardCase, HardCases, Verdict } from "../lib/contracts/metrics";
import { TableHead } from "../components/TableHead";
import { visibleText } from "../lib/site/display";

type Filter = "all" | Verdict;

const FILTERS: { value: Filter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "true failure", label: "True failures" },
  { value: "semantic match", label: "Semantic matches" },
];

const td = "border-b border-slate-200 px-3 py-1.5 text-slate-900";

function pairKey(p: ConfusionPair): string {
  return JSON.stringify([p.query_label, p.retrieved_label]);
}

function VerdictBadge(props: { verdict: Verdict }) {
  const failure = props.verdict === "true failure";
  return (
    <span
      data-testid="verdict"
      className={`inline-block rounded-full border px-2.5 py-0.5 text-xs font-semibold ${
        failure ? "border-red-800 bg-red-50 text-red-900" : "border-amber-800 bg-amber-50 text-amber-900"
      }`}
    >
      {failure ? "✗ true failure" : "≈ semantic match"}
    </span>
  );
}

function LabelChips(props: { labels: string[]; queryLabel: string; shared: string[] }) {
  if (props.labels.length === 0) return <span className="text-xs text-slate-600">no labels</span>;
  return (
    <ul className="flex flex-wrap gap-1" aria-label="labels">
      {props.labels.map((l, i) => {
        const same = l === props.queryLabel;
        const group = !same && props.shared.includes(l);
        return (
          <li
            key={`${l}-${i}`}
            className={`rounded px-1.5 py-0.5 text-xs wrap-anywhere ${
              same
                ? "bg-emerald-100 font-semibold text-emerald-900"
                : group
                  ? "bg-amber-100 text-amber-900"
                  : "bg-slate-100 text-slate-800"
            }`}
          >
            {visibleText(l)}
            {same && <span className="sr-only"> (the query's label)</span>}
            {group && <span className="sr-only"> (same semantic group as the query's label)</span>}
          </li>
        );
      })}
    </ul>
  );
}

function CaseCard(props: {
  c: HardCase;
  index: number;
  /** a URL, or (version 2 bundles, thumbnails in packs) a function that fetches one */
  thumbnailUrl: (filename: string, thumbnail: string) => string | (() => Promise<string | null>);
}) {
  const { c, index } = props;
  const headingId = `hard-case-${index}`;
  return (
    <article
      aria-labelledby={headingId}
      data-testid="hard-case"
      data-verdict={c.verdict}
      className="space-y-3 rounded border border-slate-200 bg-white p-4 wrap-anywhere"
    >
      <header className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <h3 id={headingId} className="text-base font-semibold text-slate-900">
          “{visibleText(c.query)}”
        </h3>
        <span className="text-sm text-slate-700">
          label: <span className="font-semibold text-slate-900">{visibleText(c.label)}</span>
        </span>
        <VerdictBadge verdict={c.verdict} />
      </header>
      {c.shared_group_labels.length > 0 && (
        <p className="text-sm text-slate-700">
          Top-1 image shares a semantic group with {visibleText(c.label)}:{" "}
          {visibleText(c.shared_group_labels.join(", "))}
        </p>
      )}
      <ol className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5" aria-label={`Top retrieved images for “${c.query}”`}>
        {c.retrieved.map((r, i) => {
          const labelText = r.labels.length > 0 ? r.labels.join(", ") : "no labels";
          return (
            <li key={`${r.id}-${i}`} data-testid="retrieved" data-rank={String(r.rank)} data-filename={r.filename}>
              <figure className="space-y-1">
                <CaseThumb
                  url={props.thumbnailUrl(r.filename, thumbnailPathFor(r.filename))}
                  alt={`Rank ${r.rank}: ${r.filename}, labels: ${labelText}`}
                />
                <figcaption className="space-y-1 text-xs text-slate-800">
                  <span className="block">
                    <span className="font-semibold">#{r.rank}</span>{" "}
                    <span className="break-all">{visibleText(r.filename)}</span>
                  </span>
                  <LabelChips labels={r.labels} queryLabel={c.label} shared={c.shared_group_labels} />
                </figcaption>
              </figure>
            </li>
          );
        })}
      </ol>
    </article>
  );
}

function ConfusionTable(props: { hard: HardCases }) {
  const recurring = new Set(props.hard.recurring_confusion_pairs.map(pairKey));
  const pairs = props.hard.confusion_pairs;
  if (pairs.length === 0) return <p className="text-sm text-slate-700">No confusion pairs.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full border-collapse text-sm">
        <caption className="sr-only">
          Confusion pairs: the query's label and a label of the missed top-1 image, with how often the pair occurs.
          Recurring pairs are marked.
        </caption>
        <TableHead columns={["Query label", "Retrieved label", "Count", "Recurring"]} />
        <tbody>
          {pairs.map((p, i) => {
            const rec = recurring.has(pairKey(p));
            return (
              <tr
                key={`${pairKey(p)}-${i}`}
                data-testid="confusion-pair"
                data-recurring={String(rec)}
                className={rec ? "bg-amber-50" : undefined}
              >
                <th scope="row" className={`${td} text-left font-semibold wrap-anywhere`}>
                  {visibleText(p.query_label)}
                </th>
                <td className={`${td} wrap-anywhere`}>{visibleText(p.retrieved_label)}</td>
                <td className={`${td} tabular-nums`} data-value={String(p.count)}>
                  {p.count}
                </td>
                <td className={`${td} ${rec ? "font-semibold text-amber-900" : "text-slate-600"}`}>
                  {rec ? "recurring" : "—"}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

const SUMMARY: { field: "count" | "queries" | "semantic_matches" | "true_failures"; label: string }[] = [
  { field: "count", label: "Hard cases" },
  { field: "queries", label: "Queries evaluated" },
  { field: "semantic_matches", label: "Semantic matches" },
  { field: "true_failures", label: "True failures" },
];

function HardSummary({ hard }: { hard: HardCases }) {
  return (
    <section aria-labelledby="hard-summary-title" className="space-y-2">
      <h2 id="hard-summary-title" className="text-xl font-semibold">
        Summary
      </h2>
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4">
        {SUMMARY.map((s) => (
          <div key={s.field} className="rounded border border-slate-200 bg-white p-3">
            <dt className="text-sm text-slate-700">{s.label}</dt>
            <dd
              className="text-2xl font-semibold tabular-nums"
              data-testid="hard-summary"
              data-field={s.field}
              data-value={String(hard[s.field])}
            >
              {hard[s.field]}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

export function HardCasesPage(props: {
  hard: HardCases;
  /** a URL, or (version 2 bundles, thumbnails in packs) a function that fetches one */
  thumbnailUrl: (filename: string, thumbnail: string) => string | (() => Promise<string | null>);
}) {
  const { hard } = props;
  const [filter, setFilter] = useState<Filter>("all");
  const groupName = useId();
  const shown = hard.cases.map((c, i) => ({ c, i })).filter(({ c }) => filter === "all" || c.verdict === filter);
  return (
    <article className="space-y-8 text-slate-900" aria-labelledby="hard-title">
      <header className="space-y-2">
        <h1 id="hard-title" className="text-2xl font-bold">
          Hard cases
        </h1>
        <p className="text-sm text-slate-700">{hard.rule}</p>
        <p className="text-sm text-slate-700">
          A <strong>semantic match</strong> is a top-1 image carrying a label of the query label's semantic group; a{" "}
          <strong>true failure</strong> carries none.
        </p>
      </header>

      <HardSummary hard={hard} />

      <section aria-labelledby="hard-cases-title" className="space-y-3">
        <h2 id="hard-cases-title" className="text-xl font-semibold">
          Cases
        </h2>
        <fieldset className="flex flex-wrap items-center gap-4">
          <legend className="mb-1 text-sm font-semibold">Show</legend>
          {FILTERS.map((f) => (
            <label key={f.value} className="inline-flex cursor-pointer items-center gap-2 text-sm">
              <input
                type="radio"
                name={groupName}
                value={f.value}
                checked={filter === f.value}
                onChange={() => setFilter(f.value)}
                className="h-4 w-4 accent-sky-700"
              />
              {f.label}
            </label>
          ))}
        </fieldset>
        <p className="text-sm text-slate-700" role="status">
          {shown.length} of {hard.cases.length} cases shown
        </p>
        {hard.cases.length === 0 ? (
          <p className="text-sm text-slate-700">No hard cases: every query's top-1 image carries the query's label.</p>
        ) : (
          <div className="space-y-4">
            {shown.map(({ c, i }) => (
              <CaseCard key={i} c={c} index={i} thumbnailUrl={props.thumbnailUrl} />
            ))}
          </div>
        )}
      </section>

      <section aria-labelledby="confusion-title" className="space-y-3">
        <h2 id="confusion-title" className="text-xl font-semibold">
          Confusion pairs
        </h2>
        <p className="text-sm text-slate-700">
          Over every label of each missed top-1 image. Recurring pairs (listed in the file's recurring pairs) are
          highlighted and marked “recurring”.
        </p>
        <ConfusionTable hard={hard} />
      </section>
    </article>
  );
}

function CaseThumb({ url, alt }: { url: string | (() => Promise<string | null>); alt: string }) {
  const className = "aspect-square w-full rounded bg-slate-200 object-cover";
  if (typeof url !== "string") return <Thumb url={url} alt={alt} className={className} />;
  return <img src={url} alt={alt} loading="lazy" decoding="async" className={className} />;
}
