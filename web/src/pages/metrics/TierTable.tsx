// One relevance tier's table: every metric with its value, 95% CI, chance and where it sits against chance.
import type { Metrics, TierName } from "../../lib/contracts/metrics";
import { TableHead } from "../../components/TableHead";
import { visibleText } from "../../lib/site/display";
import { FigureCells } from "./FigureCells";
import { metricGloss, metricName, tableClass, td, TIER_TITLES, versusChance } from "./format";

export function TierTable(props: { metrics: Metrics; tier: TierName }) {
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
