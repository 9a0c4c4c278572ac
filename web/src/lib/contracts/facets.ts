// Facets: per-image string values from DICOM tags (modality, body part, age band, study year, ...), de-identified
// by `medmir index` (docs/FORMAT.md). Reading them from both bundle formats, the row filter the worker ranks with,
// and their state in the page's URL (`f.<name>=v1|v2`). No markup anywhere: names and values are plain text.

/** A collection's facets as the worker holds them: per facet its values and, per row, an index into them. */
export interface FacetTable {
  readonly names: readonly string[];
  readonly values: readonly (readonly string[])[];
  /** per facet, one value index per row (-1: unknown) */
  readonly rows: readonly Int32Array[];
}

/** What the page is told of one facet (the ready message): its values with their counts over the collection. */
export interface FacetSummary {
  name: string;
  values: { value: string; count: number }[];
}

/** Chosen values per facet name: a row passes when, for each facet with a non-empty list, its value is listed. */
export type FacetSelection = Record<string, string[]>;

const TITLES: Record<string, string> = {
  modality: "Modality",
  body_part: "Body part",
  view: "View",
  age_band: "Age",
  study_year: "Study year",
};
const ORDER = Object.keys(TITLES);

/** The name a facet is shown by: the known ones' titles, any other as it is. */
export function facetTitle(name: string): string {
  return Object.hasOwn(TITLES, name) ? TITLES[name]! : name;
}

const natural = new Intl.Collator("en", { numeric: true }).compare;

/** The known facets first, in a fixed order, then the others by name. */
function byFacetOrder(a: string, b: string): number {
  const ia = ORDER.indexOf(a);
  const ib = ORDER.indexOf(b);
  if (ia >= 0 || ib >= 0) return (ia < 0 ? ORDER.length : ia) - (ib < 0 ? ORDER.length : ib);
  return natural(a, b);
}

export const NO_FACETS: FacetTable = { names: [], values: [], rows: [] };

/** Version 1: the `facets` object of each metadata.json entry (only the keys known for that image). */
export function facetsV1(images: readonly { facets?: unknown }[]): FacetTable {
  const index = new Map<string, { values: string[]; ids: Map<string, number>; rows: Int32Array }>();
  images.forEach((img, r) => {
    const f = img.facets;
    if (f === undefined || f === null) return;
    if (typeof f !== "object" || Array.isArray(f)) throw new Error(`metadata.json: image ${r}: facets must be an object`);
    for (const [name, value] of Object.entries(f)) {
      if (typeof value !== "string") throw new Error(`metadata.json: image ${r}: facet ${JSON.stringify(name)} must be a string`);
      let e = index.get(name);
      if (!e) index.set(name, (e = { values: [], ids: new Map(), rows: new Int32Array(images.length).fill(-1) }));
      let id = e.ids.get(value);
      if (id === undefined) {
        id = e.values.length;
        e.values.push(value);
        e.ids.set(value, id);
      }
      e.rows[r] = id;
    }
  });
  const names = [...index.keys()].sort(byFacetOrder);
  return { names, values: names.map((n) => index.get(n)!.values), rows: names.map((n) => index.get(n)!.rows) };
}

/** Version 2: metadata.json's optional top-level `facets`: `{name: {values: [str], rows: [int per row, -1 unknown]}}`. */
export function facetsV2(raw: unknown, count: number): FacetTable {
  if (raw === undefined || raw === null) return NO_FACETS;
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error("metadata.json: facets must be an object");
  const names = Object.keys(raw).sort(byFacetOrder);
  const values: string[][] = [];
  const rows: Int32Array[] = [];
  for (const name of names) {
    const what = `metadata.json: facet ${JSON.stringify(name)}`;
    const f = (raw as Record<string, unknown>)[name] as { values?: unknown; rows?: unknown } | null;
    if (typeof f !== "object" || f === null) throw new Error(`${what} must be an object with values and rows`);
    const vs = f.values;
    if (!Array.isArray(vs) || !vs.every((v) => typeof v === "string")) throw new Error(`${what}: values must list strings`);
    const rs = f.rows;
    if (!Array.isArray(rs) || rs.length !== count) throw new Error(`${what}: rows must list ${count} values`);
    const codes = new Int32Array(count);
    for (let r = 0; r < count; r++) {
      const i: unknown = rs[r];
      if (typeof i !== "number" || !Number.isInteger(i) || i < -1 || i >= vs.length) {
        throw new Error(`${what}: row ${r}: ${JSON.stringify(i)} is not an index of its values (or -1)`);
      }
      codes[r] = i;
    }
    values.push(vs as string[]);
    rows.push(codes);
  }
  return { names, values, rows };
}

/** Each facet's values with their counts over the collection, in a natural order ("5-9" before "10-14");
 * values no row has are left out, and so are facets no row has. */
export function summarize(t: FacetTable): FacetSummary[] {
  const out: FacetSummary[] = [];
  t.names.forEach((name, f) => {
    const counts = new Array<number>(t.values[f]!.length).fill(0);
    for (const v of t.rows[f]!) if (v >= 0) counts[v]! += 1;
    const values = t.values[f]!.map((value, i) => ({ value, count: counts[i]! })).filter((v) => v.count > 0);
    values.sort((a, b) => natural(a.value, b.value));
    if (values.length) out.push({ name, values });
  });
  return out;
}

/** Whether any facet has a value chosen. */
export function hasFacetFilters(sel?: FacetSelection): boolean {
  return !!sel && Object.values(sel).some((v) => v.length > 0);
}

/**
 * The row filter for a facet selection; undefined when none is set. Strings are looked up once, here: per facet an
 * accepted-value table, so a row costs one array read per chosen facet. A facet or value the collection lacks
 * matches no row (as a label filter on an unknown label does).
 */
export function facetFilter(t: FacetTable, sel?: FacetSelection): ((row: number) => boolean) | undefined {
  if (!hasFacetFilters(sel)) return undefined;
  const checks: { rows: Int32Array; ok: Uint8Array }[] = [];
  for (const [name, chosen] of Object.entries(sel!)) {
    if (chosen.length === 0) continue;
    const f = t.names.indexOf(name);
    if (f < 0) return () => false;
    const ok = new Uint8Array(t.values[f]!.length + 1); // slot 0: unknown (-1), never accepted
    for (const v of chosen) {
      const i = t.values[f]!.indexOf(v);
      if (i >= 0) ok[i + 1] = 1;
    }
    checks.push({ rows: t.rows[f]!, ok });
  }
  if (checks.length === 1) {
    const { rows, ok } = checks[0]!;
    return (row) => ok[rows[row]! + 1] === 1;
  }
  return (row) => {
    for (const c of checks) if (c.ok[c.rows[row]! + 1] !== 1) return false;
    return true;
  };
}

// The URL: one parameter per facet with chosen values, `f.<name>=v1|v2`; a '|' or '\' inside a value is escaped
// with '\' (URLSearchParams percent-encodes the rest).
const PREFIX = "f.";

const escape = (v: string): string => v.replace(/[\\|]/g, (c) => `\\${c}`);

function splitValues(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) cur += s[++i];
    else if (c === "|") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The facet selection a URL names. */
export function facetsFrom(params: URLSearchParams): FacetSelection {
  const sel: FacetSelection = {};
  for (const [key, value] of params) {
    if (!key.startsWith(PREFIX) || key.length === PREFIX.length) continue;
    const vs = [...new Set(splitValues(value).filter(Boolean))];
    if (vs.length) sel[key.slice(PREFIX.length)] = vs;
  }
  return sel;
}

/** Sets facet `name`'s chosen values in `params` (removes the parameter when none is chosen); `firstPage`: also
 * back to the first page of results (as any change of filters does). */
export function setFacetParam(params: URLSearchParams, name: string, values: readonly string[], firstPage = false): void {
  const vs = [...new Set(values.filter(Boolean))];
  if (vs.length) params.set(PREFIX + name, vs.map(escape).join("|"));
  else params.delete(PREFIX + name);
  if (firstPage) params.delete("pages");
}
