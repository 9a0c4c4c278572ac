// The search page's state lives in the URL (#/?q=...&inc=...&f.modality=...), so a link reproduces a search. These
// pure functions read and change it; the page only calls them. The filter and result parameters:
//   inc=A|B  all=A|B  exc=A|B             labels: any of / all of / none of
//   age=40-60 (or 40- or -60)             age range in years, bounds included; unknown ages then left out
//   sex=F|M  view=PA|AP  f.<facet>=v1|v2  accepted values
//   min=0.25                              minimum similarity
//   same=1                                similar/like: keep the query image's patient's other images (default: out)
//   group=0                               results not grouped by patient (default: grouped); display only
// An uploaded image cannot be put in a link: it never leaves the device.
import { facetsFrom } from "../../lib/contracts/facets";
import type { Filters } from "../../lib/protocol/messages";

/** A label's part in the filters: no condition ("any"), one of the "include" labels, must have ("all"), must not. */
export type LabelMode = "any" | "include" | "all" | "exclude";

const list = (params: URLSearchParams, k: string): string[] => [...new Set((params.get(k) ?? "").split("|").filter(Boolean))];

/** `age=40-60`, `age=40-`, `age=-60`: the bounds (years, >= 0); anything else is no range. */
export function ageFrom(params: URLSearchParams): { min?: number; max?: number } {
  const m = /^\s*(\d+(?:\.\d+)?)?\s*-\s*(\d+(?:\.\d+)?)?\s*$/.exec(params.get("age") ?? "");
  if (!m) return {};
  return { ...(m[1] !== undefined ? { min: Number(m[1]) } : {}), ...(m[2] !== undefined ? { max: Number(m[2]) } : {}) };
}

/** The filters the URL sets (optional fields left out when unset). */
export function filtersFrom(params: URLSearchParams): Filters {
  const min = Number(params.get("min") ?? "");
  const minScore = Number.isFinite(min) && params.has("min") ? min : -1;
  const f: Filters = { include: list(params, "inc"), exclude: list(params, "exc"), minScore, facets: facetsFrom(params) };
  const all = list(params, "all");
  if (all.length) f.all = all;
  const age = ageFrom(params);
  if (age.min !== undefined) f.ageMin = age.min;
  if (age.max !== undefined) f.ageMax = age.max;
  const sex = list(params, "sex");
  if (sex.length) f.sex = sex;
  const view = list(params, "view");
  if (view.length) f.view = view;
  return f;
}

const setList = (p: URLSearchParams, k: string, values: readonly string[]): void => {
  const vs = [...new Set(values.filter(Boolean))];
  if (vs.length) p.set(k, vs.join("|"));
  else p.delete(k);
};

/** Put `label` in `mode`; back to the first page of results. */
export function setLabelParam(p: URLSearchParams, label: string, mode: LabelMode): void {
  const f = filtersFrom(p);
  const lists = { include: f.include, all: f.all ?? [], exclude: f.exclude };
  for (const [m, key] of [["include", "inc"], ["all", "all"], ["exclude", "exc"]] as const) {
    const rest = lists[m].filter((l) => l !== label);
    setList(p, key, mode === m ? [...rest, label] : rest);
  }
  p.delete("pages");
}

export function labelMode(f: Filters, label: string): LabelMode {
  if (f.all?.includes(label)) return "all";
  return f.include.includes(label) ? "include" : f.exclude.includes(label) ? "exclude" : "any";
}

/** The age range from the two inputs' text ("" for an open bound; text that is not a number >= 0 counts as open);
 * back to the first page. */
export function setAgeParam(p: URLSearchParams, min: string, max: string): void {
  const bound = (v: string): string => (/^\d+(\.\d+)?$/.test(v.trim()) ? String(Number(v.trim())) : "");
  const lo = bound(min);
  const hi = bound(max);
  if (lo || hi) p.set("age", `${lo}-${hi}`);
  else p.delete("age");
  p.delete("pages");
}

/** The accepted sex or view values; back to the first page. */
export function setValuesParam(p: URLSearchParams, key: "sex" | "view", values: readonly string[]): void {
  setList(p, key, values);
  p.delete("pages");
}

/** Results grouped by patient: the default; `group=0` shows every image as its own card. */
/** How many pages of results the URL asks for (pages=N, at least 1). */
export function pagesFrom(params: URLSearchParams): number {
  return Math.max(1, Number(params.get("pages") ?? "1") || 1);
}

export function groupedFrom(params: URLSearchParams): boolean {
  return params.get("group") !== "0";
}

export function setGroupParam(p: URLSearchParams, on: boolean): void {
  if (on) p.delete("group");
  else p.set("group", "0");
}

/** Similar / like queries: whether the query image's patient's other images are kept (`same=1`; default: left out). */
export function samePatientFrom(params: URLSearchParams): boolean {
  return params.get("same") === "1";
}

export function setSameParam(p: URLSearchParams, on: boolean): void {
  if (on) p.set("same", "1");
  else p.delete("same");
  p.delete("pages");
}

/** The filters of a query by collection row (similar=ROW, like=ROW): the URL's, and unless `same=1` the patient
 * rule (the row's patient's other images left out). */
export function rowQueryFilters(params: URLSearchParams, row: number): Filters {
  const f = filtersFrom(params);
  if (!samePatientFrom(params)) f.exceptPatientOf = row;
  return f;
}

/** What a search depends on: the URL less its display-only parameters (grouping), so toggling one does not search
 * again. */
export function searchKey(params: URLSearchParams): string {
  const p = new URLSearchParams(params);
  p.delete("group");
  return p.toString();
}

/** A new text query: the other query kinds, the marks, the added words and the page count go. */
export function setQueryParam(p: URLSearchParams, text: string): void {
  for (const k of ["similar", "like", "img", "pos", "neg", "add", "same"]) p.delete(k);
  p.delete("pages");
  if (text.trim()) p.set("q", text.trim());
  else p.delete("q");
}

export function setMinScoreParam(p: URLSearchParams, value: string): void {
  if (value === "") p.delete("min");
  else p.set("min", value);
  p.delete("pages");
}
