// Composed and refined queries in the URL, so a link reproduces them:
//   q=effusion -cardiomegaly   words with exclusions (lib/query/queryParse.ts)
//   pos=12|40 & neg=7          results marked relevant (+) and not relevant (-): Rocchio (worker/rank/compose.ts)
//   add=effusion               words added to an image or row query (like=, similar= or img=)
//   img=1                      the image last uploaded to this page (it stays on the device: a link cannot carry it)
import { parseQuery } from "../../lib/query/queryParse";
import type { QuerySpec } from "../../lib/protocol/messages";

export type Mark = "pos" | "neg";

export interface Marks {
  pos: number[];
  neg: number[];
}

const rowList = (v: string | null): number[] => [
  ...new Set(
    (v ?? "")
      .split("|")
      .filter((x) => /^\d+$/.test(x))
      .map(Number),
  ),
];

/** The marked rows; a row in both lists counts as relevant only. */
export function marksFrom(p: URLSearchParams): Marks {
  const pos = rowList(p.get("pos"));
  return { pos, neg: rowList(p.get("neg")).filter((r) => !pos.includes(r)) };
}

function setList(p: URLSearchParams, name: string, rows: number[]): void {
  if (rows.length) p.set(name, rows.join("|"));
  else p.delete(name);
}

/** Marks `row` as `mark`, or unmarks it when it already has that mark (the buttons toggle). The page count stays: the
 * refined list is as long as the one the user marked in. */
export function toggleMark(p: URLSearchParams, row: number, mark: Mark): void {
  const m = marksFrom(p);
  const had = m[mark].includes(row);
  const pos = m.pos.filter((r) => r !== row);
  const neg = m.neg.filter((r) => r !== row);
  if (!had) (mark === "pos" ? pos : neg).push(row);
  setList(p, "pos", pos);
  setList(p, "neg", neg);
}

export function clearMarks(p: URLSearchParams): void {
  p.delete("pos");
  p.delete("neg");
}

/** The uploaded image as the query: the other query kinds, marks, added words and the page count go. */
export function setImageBase(p: URLSearchParams): void {
  for (const k of ["q", "like", "similar", "pos", "neg", "add", "pages"]) p.delete(k);
  p.set("img", "1");
}

/** Words added to an image or row query ("" removes them). */
export function setAddWords(p: URLSearchParams, words: string): void {
  const w = words.trim();
  if (w) p.set("add", w);
  else p.delete("add");
  p.delete("pages");
}

/** What the query starts from, in the page's order: Find similar, Search with this image, the uploaded image, words. */
export function queryBase(p: URLSearchParams): { kind: "similar" | "like"; row: number } | { kind: "image" } | { kind: "text"; q: string } | null {
  const similar = p.get("similar");
  const like = p.get("like");
  if (similar !== null) return { kind: "similar", row: Number(similar) };
  if (like !== null) return { kind: "like", row: Number(like) };
  if (p.has("img")) return { kind: "image" };
  const q = (p.get("q") ?? "").trim();
  return q ? { kind: "text", q } : null;
}

/** An image query (an upload, or a collection image's Find similar / Search with this image). */
export function isImageQuery(p: URLSearchParams): boolean {
  const b = queryBase(p);
  return b !== null && b.kind !== "text";
}

export type ComposedPlan = { key: string; spec: QuerySpec; error?: undefined } | { key: string; error: string; spec?: undefined };

/** The composed query the URL asks for, with the key its results answer; null when it asks for a plain search
 * (words without exclusions, Find similar or Search with this image without marks or added words, or nothing). */
export function composedPlan(p: URLSearchParams): ComposedPlan | null {
  const base = queryBase(p);
  if (!base) return null;
  const { pos, neg } = marksFrom(p);
  const add = base.kind === "text" ? "" : (p.get("add") ?? "").trim();
  const suffix = [pos.length ? `pos=${pos.join("|")}` : "", neg.length ? `neg=${neg.join("|")}` : "", add ? `add=${add}` : ""]
    .filter(Boolean)
    .map((x) => `&${x}`)
    .join("");
  if (base.kind === "text") {
    const key = `q:${base.q}${suffix}`;
    const parsed = parseQuery(base.q);
    if (!parsed.ok) return { key, error: parsed.error };
    const { words, exclude } = parsed.query;
    if (!exclude.length && !suffix) return null;
    // without exclusions the words are the query as typed (the live path embeds the same text)
    return { key, spec: { base: { kind: "text", text: exclude.length ? words : base.q }, minus: exclude, plus: "", pos, neg } };
  }
  if (base.kind === "image") return { key: `image${suffix}`, spec: { base: { kind: "image" }, minus: [], plus: add, pos, neg } };
  if (!suffix) return null;
  return { key: `${base.kind}:${base.row}${suffix}`, spec: { base: { kind: "row", row: base.row }, minus: [], plus: add, pos, neg } };
}
