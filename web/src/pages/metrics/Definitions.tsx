// What each metric, tier, the ranking rule, chance and the CI mean, in the file's own words.
import { TIER_NAMES, type Metrics } from "../../lib/contracts/metrics";
import { metricName, TIER_TITLES } from "./format";
import { Section } from "./Section";

export function Definitions(props: { metrics: Metrics }) {
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
