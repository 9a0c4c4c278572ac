// The Metrics page: every figure of metrics.json, each with its 95% CI and its chance baseline.
//
// Numbers on this page come only from `metrics` (formatting aside). Labels, queries and other strings of the file are
// untrusted data: they are rendered as React text children, never as HTML.
//
// Test hooks (stable; e2e tests compare the page with metrics.json):
//   value cells       data-testid="metric"        data-tier (strict|adjusted|semantic|image_to_image) data-metric data-value
//   CI cells          data-testid="metric-ci"     same, with data-low / data-high
//   chance cells      data-testid="metric-chance" same, data-value = chance (data-low / data-high = chance_interval95)
//   per-label cells   data-testid="per-label"     data-label data-metric (images|queries|hit@10|ap|chance_ap) data-value
//   AUC cells         data-testid="auc"           data-label data-value ("null" when undefined)
//   mean AUC / chance data-testid="auc-mean" / "auc-chance" with data-value
//   CBIR (Denner et al., only when metrics.json has image_to_image.cbir):
//     macro cells     data-testid="cbir" / "cbir-ci" / "cbir-chance" data-metric, data-value (ci: data-low / data-high)
//     published       data-testid="cbir-published" data-metric data-value ("" when the paper has no such figure)
//     per label       data-testid="cbir-label" data-label data-metric data-value data-chance data-low data-high
//     caveat          data-testid="cbir-caveat"
//   same-patient note data-testid="i2i-same-patient"

import { useId, useState, type ReactNode } from "react";
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import {
  TIER_NAMES,
  type Cbir,
  type Figure,
  type ImageToImageFigure,
  type Metrics,
  type TierName,
} from "../lib/metricsTypes";
import { TableHead } from "../components/TableHead";
import { visibleText } from "../lib/display";

const TIER_TITLES: Record<TierName, string> = {
  strict: "Strict",
  adjusted: "Adjusted",
  semantic: "Semantic",
};

const METRIC_RE = /^(hit|precision|recall|map|ndcg)@(\d+)$/;

/** Display name of a metric key ("hit@10" -> "Hit@10"). Hit@K is never called recall. */
function metricName(key: string): string {
  const m = METRIC_RE.exec(key);
  if (m) {
    const k = m[2] ?? "";
    switch (m[1]) {
      case "hit":
        return `Hit@${k}`;
      case "precision":
        return `P@${k}`;
      case "recall":
        return `Recall@${k}`;
      case "map":
        return `mAP@${k}`;
      case "ndcg":
        return `nDCG@${k}`;
    }
  }
  if (key === "ap") return "mean AP";
  if (key === "mrr") return "MRR";
  if (key === "r_precision") return "R-precision";
  return key;
}

/** One-line plain-language gloss shown under the metric name. */
function metricGloss(key: string): string {
  const m = METRIC_RE.exec(key);
  if (m) {
    const k = m[2] ?? "";
    switch (m[1]) {
      case "hit":
        return `at least one relevant image in the top ${k}`;
      case "precision":
        return `share of the top ${k} that is relevant`;
      case "recall":
        return `share of all relevant images found in the top ${k}`;
      case "map":
        return `average precision cut at rank ${k}`;
      case "ndcg":
        return `gain of the top ${k}, relevant images near the top counting more (1 = perfect)`;
    }
  }
  if (key === "ap") return "average precision over the full ranking";
  if (key === "mrr") return "1 / rank of the first relevant image";
  if (key === "r_precision") return "share of the top R that is relevant (R = the query's relevant images)";
  return "";
}

function fmt(v: number): string {
  return v.toFixed(3);
}

function fmtRange(r: readonly [number, number]): string {
  return `${fmt(r[0])} – ${fmt(r[1])}`;
}

/** Where the value sits relative to the spread of random rankings (when the file has that spread). */
function versusChance(f: Figure): { text: string; className: string } | null {
  const spread = f.chance_interval95;
  if (!spread) return null;
  if (f.value > spread[1]) return { text: "above the random range", className: "text-emerald-800" };
  if (f.value < spread[0]) return { text: "below the random range", className: "text-red-800" };
  return { text: "within the random range", className: "text-slate-700" };
}

const td = "border-b border-slate-200 px-3 py-1.5 tabular-nums text-slate-900";
const tableClass = "w-full border-collapse text-sm";

function Section(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={props.id} className="space-y-3">
      <h2 id={props.id} className="text-xl font-semibold text-slate-900">
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}

function FigureCells(props: { tier: string; metric: string; figure: Figure | ImageToImageFigure }) {
  const { tier, metric, figure } = props;
  const spread = "chance_interval95" in figure ? figure.chance_interval95 : undefined;
  return (
    <>
      <td className={`${td} font-semibold`} data-testid="metric" data-tier={tier} data-metric={metric} data-value={String(figure.value)}>
        {fmt(figure.value)}
      </td>
      <td
        className={td}
        data-testid="metric-ci"
        data-tier={tier}
        data-metric={metric}
        data-low={String(figure.ci95[0])}
        data-high={String(figure.ci95[1])}
      >
        {fmtRange(figure.ci95)}
      </td>
      <td
        className={td}
        data-testid="metric-chance"
        data-tier={tier}
        data-metric={metric}
        data-value={String(figure.chance)}
        {...(spread ? { "data-low": String(spread[0]), "data-high": String(spread[1]) } : {})}
      >
        {fmt(figure.chance)}
        {spread && <span className="ml-1 text-xs text-slate-600">(random: {fmtRange(spread)})</span>}
      </td>
    </>
  );
}

function TierTable(props: { metrics: Metrics; tier: TierName }) {
  const t = props.metrics.tiers[props.tier];
  const headingId = `tier-${props.tier}-heading`;
  return (
    <section aria-labelledby={headingId} className="space-y-2" data-testid="tier" data-tier={props.tier}>
      <h3 id={headingId} className="text-lg font-semibold text-slate-900">
        {TIER_TITLES[props.tier]} tier
      </h3>
      <p className="text-sm text-slate-700">{t.definition}</p>
      <p className="text-sm text-slate-800">
        Queries:{" "}
        <span className="font-semibold tabular-nums" data-testid="tier-queries" data-tier={props.tier} data-value={String(t.queries)}>
          {t.queries}
        </span>
        {" · "}Excluded queries:{" "}
        {t.excluded_queries.length === 0 ? (
          <span>none</span>
        ) : (
          <span data-testid="tier-excluded" data-tier={props.tier} className="wrap-anywhere">
            {t.excluded_queries.length} ({visibleText(t.excluded_queries.join(", "))})
          </span>
        )}
      </p>
      <div className="overflow-x-auto">
        <table className={tableClass}>
          <caption className="sr-only">
            {TIER_TITLES[props.tier]} tier: every metric with its value, 95% confidence interval and chance baseline
          </caption>
          <TableHead columns={["Metric", "Value", "95% CI", "Chance", "vs chance"]} />
          <tbody>
            {Object.entries(t.metrics).map(([key, f]) => {
              const vs = versusChance(f);
              return (
                <tr key={key}>
                  <th scope="row" className={`${td} text-left font-normal`}>
                    <span className="font-semibold">{metricName(key)}</span>
                    <span className="block text-xs text-slate-600">{metricGloss(key)}</span>
                  </th>
                  <FigureCells tier={props.tier} metric={key} figure={f} />
                  <td className={`${td} text-xs ${vs?.className ?? "text-slate-600"}`}>{vs ? vs.text : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function HitAtKChart(props: { metrics: Metrics }) {
  const { metrics } = props;
  const [tier, setTier] = useState<TierName>(TIER_NAMES[0]);
  const groupName = useId();
  const legendId = useId();
  const figures = metrics.tiers[tier].metrics;
  const data = metrics.ks.flatMap((k) => {
    const f = figures[`hit@${k}`];
    return f ? [{ k: `top ${k}`, hit: f.value, chance: f.chance }] : [];
  });
  return (
    <div className="space-y-3">
      <fieldset className="flex flex-wrap items-center gap-4" aria-describedby={legendId}>
        <legend id={legendId} className="mb-1 text-sm font-semibold text-slate-900">
          Tier shown in the chart
        </legend>
        {TIER_NAMES.map((name) => (
          <label key={name} className="inline-flex cursor-pointer items-center gap-2 text-sm text-slate-900">
            <input
              type="radio"
              name={groupName}
              value={name}
              checked={tier === name}
              onChange={() => setTier(name)}
              className="h-4 w-4 accent-sky-700 focus-visible:outline-2 focus-visible:outline-sky-700"
            />
            {TIER_TITLES[name]}
          </label>
        ))}
      </fieldset>
      <figure className="space-y-2">
        <div className="h-72 w-full">
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={data} margin={{ top: 8, right: 24, bottom: 8, left: 0 }}>
              <CartesianGrid stroke="#e2e8f0" />
              <XAxis dataKey="k" stroke="#334155" padding={{ left: 24, right: 24 }} />
              <YAxis domain={[0, 1]} stroke="#334155" tickFormatter={(v: number) => v.toFixed(2)} />
              <Tooltip formatter={(v) => (typeof v === "number" ? fmt(v) : String(v))} />
              <Legend />
              <Line
                type="linear"
                dataKey="hit"
                name="Hit@K (this model)"
                stroke="#0369a1"
                strokeWidth={2}
                dot
                isAnimationActive={false}
              />
              <Line
                type="linear"
                dataKey="chance"
                name="chance (random ranking)"
                stroke="#b45309"
                strokeWidth={2}
                strokeDasharray="6 4"
                dot
                isAnimationActive={false}
              />
            </LineChart>
          </ResponsiveContainer>
        </div>
        <figcaption className="text-sm text-slate-700">
          Hit@K: share of queries with at least one relevant image in the top K ({TIER_TITLES[tier]} tier), beside its
          exact chance value under a random ranking. The tables below hold the same numbers.
        </figcaption>
      </figure>
    </div>
  );
}

function PerLabelSection(props: { metrics: Metrics }) {
  const rows = props.metrics.per_label;
  const data = rows.map((r) => ({ label: r.label, ap: r.ap, chance_ap: r.chance_ap }));
  const cell = (label: string, metric: string, value: number, count = false) => (
    <td className={td} data-testid="per-label" data-label={label} data-metric={metric} data-value={String(value)}>
      {count ? value : fmt(value)}
    </td>
  );
  return (
    <Section id="per-label-heading" title="Per label (strict tier)">
      <figure className="space-y-2">
        <div className="w-full" style={{ height: `${Math.max(rows.length, 1) * 1.75 + 4}rem` }}>
          <ResponsiveContainer width="100%" height="100%">
            <BarChart data={data} layout="vertical" margin={{ top: 8, right: 24, bottom: 8, left: 8 }}>
              <CartesianGrid stroke="#e2e8f0" />
              <XAxis type="number" stroke="#334155" tickFormatter={(v: number) => v.toFixed(2)} />
              <YAxis type="category" dataKey="label" width={140} stroke="#334155" />
              <Tooltip formatter={(v) => (typeof v === "number" ? fmt(v) : String(v))} />
              <Legend />
              <Bar dataKey="ap" name="AP (this model)" fill="#0369a1" isAnimationActive={false} />
              <Bar dataKey="chance_ap" name="AP by chance" fill="#d97706" isAnimationActive={false} />
            </BarChart>
          </ResponsiveContainer>
        </div>
        <figcaption className="text-sm text-slate-700">
          Average precision of each label's queries beside the exact expected AP of a random ranking.
        </figcaption>
      </figure>
      <div className="overflow-x-auto">
        <table className={tableClass}>
          <caption className="sr-only">Per label, strict tier: images, queries, Hit@10, AP and AP by chance</caption>
          <TableHead columns={["Label", "Images", "Queries", "Hit@10", "AP", "AP by chance"]} />
          <tbody>
            {rows.map((r, i) => (
              <tr key={`${r.label}-${i}`}>
                <th scope="row" className={`${td} text-left font-semibold wrap-anywhere`}>
                  {visibleText(r.label)}
                </th>
                {cell(r.label, "images", r.images, true)}
                {cell(r.label, "queries", r.queries, true)}
                {cell(r.label, "hit@10", r["hit@10"])}
                {cell(r.label, "ap", r.ap)}
                {cell(r.label, "chance_ap", r.chance_ap)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

function CbirSection(props: { cbir: Cbir }) {
  const c = props.cbir;
  const pub = c.published;
  const macro = Object.entries(c.macro);
  const names = macro.map(([key]) => key);
  return (
    <section aria-labelledby="cbir-heading" className="space-y-3" data-testid="cbir-section">
      <h3 id="cbir-heading" className="text-lg font-semibold text-slate-900">
        CBIR protocol ({c.protocol}): label-match precision@k
      </h3>
      <p className="text-sm text-slate-700">{c.definition}</p>
      <p className="text-sm text-slate-800">
        Labels averaged: <span className="font-semibold tabular-nums">{c.labels}</span> · (query image, label) pairs:{" "}
        <span className="tabular-nums">{c.query_label_pairs}</span>
        {c.labels_without_queries.length > 0 && (
          <span className="wrap-anywhere">
            {" "}
            · labels without a query image (left out of the average):{" "}
            {visibleText(c.labels_without_queries.join(", "))}
          </span>
        )}
      </p>
      {macro.length === 0 ? (
        <p className="text-sm text-slate-800">No label has a query image: nothing to average.</p>
      ) : (
        <>
          <div className="overflow-x-auto">
            <table className={tableClass}>
              <caption className="sr-only">
                CBIR protocol: precision at k macro-averaged over labels, with 95% confidence interval, chance, and
                the published figure for reference
              </caption>
              <TableHead columns={["Metric", "Macro over labels", "95% CI", "Chance", `Published ${pub.model}`]} />
              <tbody>
                {macro.map(([key, f]) => {
                  const published = pub.values[key];
                  const k = /@(\d+)$/.exec(key)?.[1] ?? "k";
                  return (
                    <tr key={key}>
                      <th scope="row" className={`${td} text-left font-normal`}>
                        <span className="font-semibold">{metricName(key)}</span>
                        <span className="block text-xs text-slate-600">share of the top {k} carrying the query's label</span>
                      </th>
                      <td className={`${td} font-semibold`} data-testid="cbir" data-metric={key} data-value={String(f.value)}>
                        {fmt(f.value)}
                      </td>
                      <td
                        className={td}
                        data-testid="cbir-ci"
                        data-metric={key}
                        data-low={String(f.ci95[0])}
                        data-high={String(f.ci95[1])}
                      >
                        {fmtRange(f.ci95)}
                      </td>
                      <td className={td} data-testid="cbir-chance" data-metric={key} data-value={String(f.chance)}>
                        {fmt(f.chance)}
                      </td>
                      <td
                        className={`${td} text-slate-700`}
                        data-testid="cbir-published"
                        data-metric={key}
                        data-value={published === undefined ? "" : String(published)}
                      >
                        {published === undefined ? "—" : fmt(published)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <p
            className="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950"
            data-testid="cbir-caveat"
          >
            {!pub.comparable && <strong>Not directly comparable. </strong>}
            Published column: {pub.model} as reported by {pub.source}, on {pub.collection}. Caveat: {pub.caveat}. Judge
            this bundle's figures against their chance column.
          </p>
          <div className="overflow-x-auto">
            <table className={tableClass}>
              <caption className="sr-only">
                CBIR protocol per label: precision at k over the label's query images, with chance and 95% interval
              </caption>
              <TableHead columns={["Label", "Images", "Queries", ...names.map(metricName)]} />
              <tbody>
                {c.per_label.map((row, i) => (
                  <tr key={`${row.label}-${i}`}>
                    <th scope="row" className={`${td} text-left font-semibold wrap-anywhere`}>
                      {visibleText(row.label)}
                    </th>
                    <td className={td}>{row.images}</td>
                    <td className={td}>{row.queries}</td>
                    {names.map((key) => {
                      const f = row.metrics[key];
                      if (!f) return <td key={key} className={td}>—</td>;
                      return (
                        <td
                          key={key}
                          className={td}
                          data-testid="cbir-label"
                          data-label={row.label}
                          data-metric={key}
                          data-value={String(f.value)}
                          data-chance={String(f.chance)}
                          data-low={String(f.ci95[0])}
                          data-high={String(f.ci95[1])}
                        >
                          <span className="font-semibold">{fmt(f.value)}</span>
                          <span className="block text-xs text-slate-600">
                            chance {fmt(f.chance)} · CI {fmtRange(f.ci95)}
                          </span>
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function ImageToImageSection(props: { metrics: Metrics }) {
  const i2i = props.metrics.image_to_image;
  return (
    <Section id="i2i-heading" title="Image → image">
      <p className="text-sm text-slate-700">{i2i.definition}</p>
      <p className="text-sm font-semibold text-slate-900" data-testid="i2i-same-patient">
        Images of the query's own patient are excluded: they are never candidates (nor is the query itself) in any
        image → image figure on this page, because another image of the same patient is a near-duplicate, not a
        retrieval.
      </p>
      <p className="text-sm text-slate-800">
        Query images: <span className="font-semibold tabular-nums">{i2i.queries}</span>
        {i2i.sampled ? " (a seeded sample of the bundle)" : " (every image of the bundle)"} · mean candidates per
        query: <span className="tabular-nums">{i2i.mean_candidates}</span>
      </p>
      <div className="overflow-x-auto">
        <table className={tableClass}>
          <caption className="sr-only">Image to image retrieval: value, 95% confidence interval and chance</caption>
          <TableHead columns={["Metric", "Value", "95% CI", "Chance"]} />
          <tbody>
            {Object.entries(i2i.metrics).map(([key, f]) => (
              <tr key={key}>
                <th scope="row" className={`${td} text-left font-normal`}>
                  <span className="font-semibold">{metricName(key)}</span>
                  <span className="block text-xs text-slate-600">{metricGloss(key)}</span>
                </th>
                <FigureCells tier="image_to_image" metric={key} figure={f} />
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {i2i.cbir && <CbirSection cbir={i2i.cbir} />}
    </Section>
  );
}

function ZeroShotSection(props: { metrics: Metrics }) {
  const z = props.metrics.zero_shot_auc;
  return (
    <Section id="auc-heading" title="Zero-shot label AUC">
      <p className="text-sm text-slate-700">{z.method}</p>
      <details className="text-sm text-slate-800">
        <summary className="cursor-pointer font-semibold">Prompt templates ({z.templates.length})</summary>
        <ul className="mt-1 list-disc pl-6">
          {z.templates.map((t, i) => (
            <li key={i}>{t}</li>
          ))}
        </ul>
      </details>
      <div className="overflow-x-auto">
        <table className={tableClass}>
          <caption className="sr-only">Zero-shot ROC AUC per label, with positive and negative image counts</caption>
          <TableHead columns={["Label", "AUC", "Positives", "Negatives"]} />
          <tbody>
            {z.labels.map((r, i) => (
              <tr key={`${r.label}-${i}`}>
                <th scope="row" className={`${td} text-left font-semibold wrap-anywhere`}>
                  {visibleText(r.label)}
                </th>
                <td className={td} data-testid="auc" data-label={r.label} data-value={String(r.auc)}>
                  {r.auc === null ? (
                    <span>
                      n/a{r.note ? <span className="block text-xs text-slate-600">{r.note}</span> : null}
                    </span>
                  ) : (
                    fmt(r.auc)
                  )}
                </td>
                <td className={td}>{r.positives}</td>
                <td className={td}>{r.negatives}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" className={`${td} text-left font-semibold`}>
                Mean AUC
              </th>
              <td className={`${td} font-semibold`} data-testid="auc-mean" data-value={String(z.mean_auc)}>
                {z.mean_auc === null ? "n/a" : fmt(z.mean_auc)}
              </td>
              <td className={td} colSpan={2}>
                chance:{" "}
                <span data-testid="auc-chance" data-value={String(z.chance)}>
                  {z.chance}
                </span>
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
    </Section>
  );
}

function Definitions(props: { metrics: Metrics }) {
  const m = props.metrics;
  return (
    <Section id="defs-heading" title="Definitions">
      <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
        {Object.entries(m.metric_docs).map(([key, doc]) => (
          <div key={key} className="contents">
            <dt className="font-semibold text-slate-900">
              {metricName(key)} <code className="text-xs font-normal text-slate-600">{key}</code>
            </dt>
            <dd className="text-slate-800">{doc}</dd>
          </div>
        ))}
        {TIER_NAMES.map((name) => (
          <div key={name} className="contents">
            <dt className="font-semibold text-slate-900">{TIER_TITLES[name]} tier</dt>
            <dd className="text-slate-800">{m.tiers[name].definition}</dd>
          </div>
        ))}
        {(
          [
            ["Ranking", m.ranking_rule],
            ["Chance", m.chance],
            ["95% CI", m.ci],
          ] as const
        ).map(([term, text]) => (
          <div key={term} className="contents">
            <dt className="font-semibold text-slate-900">{term}</dt>
            <dd className="text-slate-800">{text}</dd>
          </div>
        ))}
      </dl>
    </Section>
  );
}

function Evaluated(props: { metrics: Metrics }) {
  const e = props.metrics.evaluated;
  const q = props.metrics.queries;
  const rows: [string, ReactNode][] = [
    ["What was evaluated", e.what],
    ["Text model", e.text_model],
    ["Padding", e.padding],
    [
      "Image embeddings",
      [e.image_embeddings.precision, e.image_embeddings.source].filter((s) => s !== undefined).join(" · ") || "—",
    ],
    [
      "Model",
      <>
        {e.model.title} <code className="text-xs text-slate-600">{e.model.name}</code>
      </>,
    ],
    ["Model source", <code className="break-all text-xs">{e.model.source}</code>],
    ["Model revision", e.model.revision ?? "none (local checkpoint, no hub revision)"],
    ...(e.model.manifest_sha256
      ? ([["Model pack manifest sha256", <code className="break-all text-xs">{e.model.manifest_sha256}</code>]] as [
          string,
          ReactNode,
        ][])
      : []),
    ["Images in the bundle", <span className="tabular-nums">{e.bundle_images}</span>],
    [
      "Queries",
      <>
        <span className="tabular-nums">{q.count}</span> over {q.labels.length} labels
        {q.source !== "built-in" && <> · from your query file {visibleText(q.source)}</>}
        {q.labels_from_templates.length > 0 && (
          <> · queried from templates (no curated phrasings): {visibleText(q.labels_from_templates.join(", "))}</>
        )}
        {q.labels_without_images.length > 0 && (
          <> · labels without images: {visibleText(q.labels_without_images.join(", "))}</>
        )}
      </>,
    ],
    ["Evaluated on", `${e.created} (medmir ${e.medmir})`],
  ];
  return (
    <Section id="evaluated-heading" title="What was evaluated">
      <dl className="grid gap-x-6 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">
        {rows.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="font-semibold text-slate-900">{k}</dt>
            <dd className="text-slate-800">{v}</dd>
          </div>
        ))}
      </dl>
    </Section>
  );
}

export function MetricsPage(props: { metrics: Metrics }) {
  const { metrics } = props;
  const random = metrics.evaluated.random_weights || metrics.evaluated.model.random_weights === true;
  const hs = metrics.hard_cases_summary;
  return (
    <article className="space-y-10 text-slate-900" aria-labelledby="metrics-title">
      <header className="space-y-2">
        <h1 id="metrics-title" className="text-2xl font-bold">
          Retrieval metrics
        </h1>
        <p className="text-sm text-slate-700">
          Every figure is a mean over the evaluation queries, shown with its 95% bootstrap confidence interval and its
          exact chance value (the expected score of a random ranking). On a dense multi-label collection chance is
          high, so compare each value with its chance column.
        </p>
      </header>
      {random && (
        <div
          role="alert"
          data-testid="metrics-random-banner"
          className="rounded border-2 border-red-800 bg-red-700 px-4 py-3 text-base font-bold text-white"
        >
          Random weights: results are meaningless
          {metrics.evaluated.warning &&
            metrics.evaluated.warning.trim().toLowerCase() !== "random weights: results are meaningless" && (
            <span className="mt-1 block text-sm font-normal">{metrics.evaluated.warning}</span>
          )}
        </div>
      )}
      <Evaluated metrics={metrics} />
      <Section id="hitk-heading" title="Hit@K against chance">
        <HitAtKChart metrics={metrics} />
      </Section>
      <Section id="tiers-heading" title="Text → image, by relevance tier">
        <div className="space-y-8">
          {TIER_NAMES.map((name) => (
            <TierTable key={name} metrics={metrics} tier={name} />
          ))}
        </div>
      </Section>
      <PerLabelSection metrics={metrics} />
      <ImageToImageSection metrics={metrics} />
      <ZeroShotSection metrics={metrics} />
      <Section id="hard-summary-heading" title="Hard cases">
        <p className="text-sm text-slate-800">
          <span className="tabular-nums">{hs.count}</span> of <span className="tabular-nums">{hs.queries}</span>{" "}
          queries have a top-1 image without the query's label: <span className="tabular-nums">{hs.semantic_matches}</span>{" "}
          semantic matches, <span className="tabular-nums">{hs.true_failures}</span> true failures (see the Hard cases
          page).
        </p>
      </Section>
      <Definitions metrics={metrics} />
    </article>
  );
}
