// The strict tier per label: AP beside chance as a chart, and every per-label figure in a table.
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { Metrics } from "../../lib/contracts/metrics";
import { TableHead } from "../../components/TableHead";
import { visibleText } from "../../lib/site/display";
import { fmt, tableClass, td } from "./format";
import { Section } from "./Section";

export function PerLabelSection(props: { metrics: Metrics }) {
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
