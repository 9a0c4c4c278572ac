// The CBIR protocol of Denner et al. (image -> image, label-match P@k macro over labels): the macro figures beside
// the published ones, the caveat on comparing them, and each label's figures.
import type { Cbir, CbirLabel } from "../../lib/contracts/metrics";
import { TableHead } from "../../components/TableHead";
import { visibleText } from "../../lib/site/display";
import { fmt, fmtRange, metricName, tableClass, td } from "./format";

export function CbirSection(props: { cbir: Cbir }) {
  const c = props.cbir;
  const macro = Object.entries(c.macro);
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
          <CbirMacroTable cbir={c} />
          <CbirCaveat published={c.published} />
          <CbirPerLabelTable rows={c.per_label} names={macro.map(([key]) => key)} />
        </>
      )}
    </section>
  );
}

function CbirMacroTable(props: { cbir: Cbir }) {
  const pub = props.cbir.published;
  return (
    <div className="overflow-x-auto">
      <table className={tableClass}>
        <caption className="sr-only">
          CBIR protocol: precision at k macro-averaged over labels, with 95% confidence interval, chance, and
          the published figure for reference
        </caption>
        <TableHead columns={["Metric", "Macro over labels", "95% CI", "Chance", `Published ${pub.model}`]} />
        <tbody>
          {Object.entries(props.cbir.macro).map(([key, f]) => {
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
  );
}

function CbirCaveat(props: { published: Cbir["published"] }) {
  const pub = props.published;
  return (
    <p
      className="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950"
      data-testid="cbir-caveat"
    >
      {!pub.comparable && <strong>Not directly comparable. </strong>}
      Published column: {pub.model} as reported by {pub.source}, on {pub.collection}. Caveat: {pub.caveat}. Judge
      this bundle's figures against their chance column.
    </p>
  );
}

/** One row per label, one column per macro metric (`names`); a label without a metric shows a dash. */
function CbirPerLabelTable(props: { rows: CbirLabel[]; names: string[] }) {
  const { rows, names } = props;
  return (
    <div className="overflow-x-auto">
      <table className={tableClass}>
        <caption className="sr-only">
          CBIR protocol per label: precision at k over the label's query images, with chance and 95% interval
        </caption>
        <TableHead columns={["Label", "Images", "Queries", ...names.map(metricName)]} />
        <tbody>
          {rows.map((row, i) => (
            <tr key={`${row.label}-${i}`}>
              <th scope="row" className={`${td} text-left font-semibold wrap-anywhere`}>
                {visibleText(row.label)}
              </th>
              <td className={td}>{row.images}</td>
              <td className={td}>{row.queries}</td>
              {names.map((key) => (
                <CbirLabelCell key={key} row={row} metric={key} />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CbirLabelCell(props: { row: CbirLabel; metric: string }) {
  const { row, metric: key } = props;
  const f = row.metrics[key];
  if (!f) return <td className={td}>—</td>;
  return (
    <td
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
}
