// Matching a typed query to the precomputed fallback queries: exact (same normalised key) or fuzzy (same words
// after spelling variants, allowing one typo in longer words). Anything else goes to live inference.

/** Same rule as Python's bundle.format.normalize_query: lowercase, ASCII letters/digits, other runs -> one space. */
export function normalizeQuery(text: string): string {
  return (text.toLowerCase().match(/[a-z0-9]+/g) ?? []).join(" ");
}

// British/American spellings, abbreviations and joined forms radiologists type.
const VARIANTS: Record<string, string[]> = {
  xray: ["x", "ray"],
  xrays: ["x", "ray"],
  cxr: ["chest", "x", "ray"],
  radiograph: ["x", "ray"],
  oedema: ["edema"],
  haemorrhage: ["hemorrhage"],
  ptx: ["pneumothorax"],
  cardiomegally: ["cardiomegaly"],
  effusions: ["effusion"],
  nodules: ["nodule"],
  masses: ["mass"],
  infiltrates: ["infiltrate"],
  opacities: ["opacity"],
  lungs: ["lung"],
};
const STOPWORDS = new Set(["a", "an", "the", "of", "with", "and", "in", "on", "showing", "show", "image", "images"]);

export function canonicalWords(text: string): string[] {
  const out: string[] = [];
  for (const w of normalizeQuery(text).split(" ")) {
    if (!w) continue;
    for (const v of VARIANTS[w] ?? [w]) if (!STOPWORDS.has(v)) out.push(v);
  }
  return [...new Set(out)].sort();
}

function editDistanceAtMost(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > max) return false;
    prev = cur;
  }
  return prev[b.length]! <= max;
}

function sameWord(a: string, b: string): boolean {
  if (a === b) return true;
  const allowed = Math.min(a.length, b.length) >= 9 ? 2 : Math.min(a.length, b.length) >= 5 ? 1 : 0;
  return allowed > 0 && editDistanceAtMost(a, b, allowed);
}

export interface FallbackEntry {
  query: string;
  normalized: string;
  ids: number[];
  scores: number[];
}

export type MatchKind = "exact" | "fuzzy";

export function matchFallback(
  text: string,
  entries: readonly FallbackEntry[],
): { kind: MatchKind; entry: FallbackEntry } | null {
  const key = normalizeQuery(text);
  if (!key) return null;
  const exact = entries.find((e) => e.normalized === key);
  if (exact) return { kind: "exact", entry: exact };
  const words = canonicalWords(text);
  if (words.length === 0) return null;
  for (const e of entries) {
    const other = canonicalWords(e.query);
    if (other.length !== words.length) continue;
    const used = new Set<number>();
    const all = words.every((w) => {
      const j = other.findIndex((o, idx) => !used.has(idx) && sameWord(w, o));
      if (j < 0) return false;
      used.add(j);
      return true;
    });
    if (all) return { kind: "fuzzy", entry: e };
  }
  return null;
}
