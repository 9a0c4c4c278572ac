// A figure's three cells (value, 95% CI, chance with its random spread), with the data-testid hooks MetricsPage.tsx
// lists.
import type { Figure, ImageToImageFigure } from "../../lib/contracts/metrics";
import { fmt, fmtRange, td } from "./format";

export function FigureCells(props: { tier: string; metric: string; figure: Figure | ImageToImageFigure }) {
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
