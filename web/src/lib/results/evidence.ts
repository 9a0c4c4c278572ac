// The evidence shown next to an image query's results: how often each label occurs among the top-K neighbours.
// Counts only, as plain text: a description of the neighbours, not a diagnosis of the query image.

export interface LabelCount {
  label: string;
  count: number;
}

/** Each label's number of rows among `rows` (a row counts once per label), most frequent first, ties by name. */
export function labelCounts(rows: readonly { labels: readonly string[] }[]): LabelCount[] {
  const counts = new Map<string, number>();
  for (const r of rows) for (const l of new Set(r.labels)) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** "Effusion 6 of 10" */
export function countText(c: LabelCount, k: number): string {
  return `${c.label} ${c.count} of ${k}`;
}
