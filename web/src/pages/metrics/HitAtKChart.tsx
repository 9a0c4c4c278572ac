// Hit@K against its exact chance value, for the tier the reader picks.
import { useId, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { TIER_NAMES, type Metrics, type TierName } from "../../lib/contracts/metrics";
import { fmt, TIER_TITLES } from "./format";

export function HitAtKChart(props: { metrics: Metrics }) {
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
