// Zero-shot label AUC: per label, the mean, and its chance value.
import type { Metrics } from "../../lib/contracts/metrics";
import { TableHead } from "../../components/TableHead";
import { visibleText } from "../../lib/site/display";
import { fmt, tableClass, td } from "./format";
import { Section } from "./Section";

export function ZeroShotSection(props: { metrics: Metrics }) {
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
