// How many of the results fetched have each label, sex, view and facet value: the filters show these next to the
// collection's own counts, so a reader sees what a filter would keep of what is on screen.
import type { RowInfo } from "../protocol/messages";

export interface ResultCounts {
  /** images counted (the results fetched) */
  n: number;
  labels: Map<string, number>;
  sex: Map<string, number>;
  view: Map<string, number>;
  /** per facet name, per value */
  facets: Map<string, Map<string, number>>;
  /** results with a known age */
  aged: number;
}

const bump = (m: Map<string, number>, k: string | undefined | null): void => {
  if (k) m.set(k, (m.get(k) ?? 0) + 1);
};

export function resultCounts(rows: readonly RowInfo[]): ResultCounts {
  const c: ResultCounts = { n: rows.length, labels: new Map(), sex: new Map(), view: new Map(), facets: new Map(), aged: 0 };
  for (const r of rows) {
    for (const l of new Set(r.labels)) bump(c.labels, l);
    bump(c.sex, r.sex);
    bump(c.view, r.view);
    if (typeof r.age === "number") c.aged++;
    for (const [name, value] of Object.entries(r.facets ?? {})) {
      let m = c.facets.get(name);
      if (!m) c.facets.set(name, (m = new Map()));
      bump(m, value);
    }
  }
  return c;
}
