// What was evaluated: the model, its pack, the bundle and the queries.
import type { ReactNode } from "react";
import type { Metrics } from "../../lib/contracts/metrics";
import { visibleText } from "../../lib/site/display";
import { Section } from "./Section";

export function Evaluated(props: { metrics: Metrics }) {
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
