// The Metrics page: every figure of metrics.json, each with its 95% CI and its chance baseline; one file per section
// in metrics/.
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

import { TIER_NAMES, type Metrics } from "../lib/contracts/metrics";
import { Definitions } from "./metrics/Definitions";
import { Evaluated } from "./metrics/Evaluated";
import { HitAtKChart } from "./metrics/HitAtKChart";
import { ImageToImageSection } from "./metrics/ImageToImageSection";
import { PerLabelSection } from "./metrics/PerLabelSection";
import { Section } from "./metrics/Section";
import { TierTable } from "./metrics/TierTable";
import { ZeroShotSection } from "./metrics/ZeroShotSection";

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
