// Image -> image retrieval: the figures, the same-patient rule, and the CBIR protocol when the file has it.
import type { Metrics } from "../../lib/contracts/metrics";
import { TableHead } from "../../components/TableHead";
import { CbirSection } from "./CbirSection";
import { FigureCells } from "./FigureCells";
import { metricGloss, metricName, tableClass, td } from "./format";
import { Section } from "./Section";

export function ImageToImageSection(props: { metrics: Metrics }) {
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
