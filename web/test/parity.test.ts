// The parity tables (tests/fixtures/parity/*.json, written by scripts/make_parity_tables.py from the Python reference),
// TypeScript's driver: every case's `input` through the web's implementation must give the case's `expected`. A case
// with `web_differs` is a difference known today (in words): the driver asserts it still holds, so fixing either side
// shows up here. tests/test_parity_tables.py is Python's driver of the same cases.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseScoreBands, type BandKind, type ScoreBands } from "../src/lib/contracts/bands";
import { Columns } from "../src/lib/contracts/bundleV2";
import type { MetadataEntry } from "../src/lib/contracts/metadata";
import { thumbnailPathFor } from "../src/lib/contracts/metadata";
import { facetValues, patientOf, rowTableV1, type RowTable } from "../src/lib/contracts/rowTable";
import type { Filters } from "../src/lib/protocol/messages";
import { bandOf, noConfidentMatch } from "../src/lib/results/confidence";
import { rowFilter } from "../src/worker/collection/collection";
import { Int8Ranker } from "../src/worker/rank/int8Ranking";

interface Case<I, E> {
  case: string;
  input: I;
  expected: E;
  web_differs?: string;
}

type Table<I, E, Shared = object> = { about: string; cases: Case<I, E>[] } & Shared;

function table<I, E, Shared = object>(name: string): Table<I, E, Shared> {
  const path = new URL(`../../tests/fixtures/parity/${name}.json`, import.meta.url);
  const t = JSON.parse(readFileSync(path, "utf-8")) as Table<I, E, Shared>;
  expect(t.about.length).toBeGreaterThan(0);
  return t;
}

/** `got` equals the case's expected answer (or `want`, that answer in the terms the web gives it), or, for a known
 * difference, still does not. */
function agree<I, E>(c: Case<I, E>, got: unknown, want: unknown = c.expected): void {
  if (c.web_differs) expect(got, `known difference no longer there: ${c.web_differs}`).not.toEqual(want);
  else expect(got).toEqual(want);
}

/** A refusal, whatever its words (Python's `{error}` and a thrown Error name the problem differently). */
const refusal = (error: unknown) => ({ refused: error !== null });

const named = <C extends { case: string }>(cases: C[]): [string, C][] => cases.map((c) => [c.case, c]);

// -- score bands ------------------------------------------------------------------------------------------------------

type BandsInput =
  | { fn: "band"; score: number; score_bands: ScoreBands | null; kind: BandKind }
  | { fn: "no_confident_match"; scores: number[]; score_bands: ScoreBands | null; kind: BandKind }
  | { fn: "check"; score_bands: unknown }
  | { fn: "score_bands"; neighbor_scores: number[][]; fallback: unknown };

function runBands(inp: BandsInput, expected: unknown): unknown {
  switch (inp.fn) {
    case "band":
      return bandOf(inp.score, inp.score_bands?.[inp.kind]);
    case "no_confident_match":
      return noConfidentMatch(inp.scores.map((score) => ({ score })), inp.score_bands?.[inp.kind]);
    case "check":
      try {
        parseScoreBands(inp.score_bands);
        return refusal(null);
      } catch (e) {
        return refusal(e);
      }
    case "score_bands":
      // the web does not compute bands: what the Python writer computes, it must accept as it is
      return parseScoreBands(expected);
  }
}

describe("parity: score bands", () => {
  const t = table<BandsInput, unknown>("bands");
  it.each(named(t.cases))("%s", (_, c) => {
    const want = c.input.fn === "check" ? refusal((c.expected as { error: string | null }).error) : c.expected;
    agree(c, runBands(c.input, c.expected), want);
  });
});

// -- label and facet filters ------------------------------------------------------------------------------------------

interface FiltersInput {
  any_of: string[];
  all_of: string[];
  none_of: string[];
  facets: Record<string, string[]>;
}

function passing(t: RowTable, inp: FiltersInput): { rows: number[] } {
  const f: Filters = { include: inp.any_of, all: inp.all_of, exclude: inp.none_of, minScore: -1, facets: inp.facets };
  const accept = rowFilter(t, f);
  return { rows: Array.from({ length: t.count }, (_, r) => r).filter((r) => !accept || accept(r)) };
}

describe("parity: label and facet filters", () => {
  const t = table<FiltersInput, unknown, { metadata: { count: number }; images: MetadataEntry[] }>("filters");
  const v2 = new Columns(t.metadata, t.metadata.count).rowTable();
  const v1 = rowTableV1(t.images);
  it.each(named(t.cases))("%s", (_, c) => {
    const got = passing(v2, c.input);
    expect(passing(v1, c.input), "version 1 and version 2 row tables").toEqual(got);
    agree(c, got);
  });
});

// -- int8 ranking ----------------------------------------------------------------------------------------------------

interface Int8Input {
  codes: number[][];
  scales: number[];
  center: number[];
  queries: number[][];
  k: number;
  passes: boolean[] | null;
}

interface Ranked {
  ids: number[][];
  scores: number[][];
}

function rankInt8(inp: Int8Input, simd: boolean): { kernel: string; got: Ranked } {
  const n = inp.codes.length;
  const dim = inp.center.length;
  const r = new Int8Ranker(n, dim, Float32Array.from(inp.center), simd);
  r.setScales(Float32Array.from(inp.scales));
  const codes = Int8Array.from(inp.codes.flat());
  const half = Math.floor(n / 2) * dim; // two shards, as a bundle's rows arrive
  r.addRows(codes.subarray(0, half));
  r.addRows(codes.subarray(half));
  const passes = inp.passes;
  const accept = passes ? (row: number) => passes[row]! : undefined;
  const hits = inp.queries.map((q) => r.rank(Float32Array.from(q), inp.k, accept));
  return { kernel: r.kernel, got: { ids: hits.map((h) => h.map((x) => x.id)), scores: hits.map((h) => h.map((x) => x.score)) } };
}

describe("parity: int8 ranking", () => {
  const t = table<Int8Input, Ranked, { score_tolerance: number }>("int8_ranking");
  const cases = t.cases.flatMap((c) => [true, false].map((simd) => [`${c.case} (SIMD ${simd})`, c, simd] as const));
  it.each(cases)("%s", (_, c, simd) => {
    const { kernel, got } = rankInt8(c.input, simd);
    expect(kernel).toBe(simd && c.input.center.length % 16 === 0 ? "wasm-simd-int8" : "js");
    expect(got.ids).toEqual(c.expected.ids);
    got.scores.forEach((row, q) =>
      row.forEach((s, i) => {
        const want = c.expected.scores[q]![i]!;
        expect(Math.abs(s - want), `query ${q}, rank ${i}: ${s} vs ${want}`).toBeLessThanOrEqual(t.score_tolerance);
      }),
    );
  });
});

// -- columnar metadata ------------------------------------------------------------------------------------------------

interface ColumnsInput {
  count: number;
  metadata: unknown;
}

type PyRow = Pick<MetadataEntry, "filename" | "thumbnail" | "labels" | "age"> & {
  primary_label: string;
  patient_id: string;
  sex: string;
  view: string;
  facets?: Record<string, string>;
};

/** A Python row as far as the web decodes it (no `id`, no `report`; no facets: {}). */
function comparable(r: PyRow) {
  const { filename, thumbnail, labels, primary_label, patient_id, age, sex, view } = r;
  return { filename, thumbnail, labels, primary_label, patient_id, age, sex, view, facets: r.facets ?? {} };
}

/** Row r as Columns.row gives it, and as the row table the filters read holds it. */
function decoded(cols: Columns, t: RowTable, r: number) {
  const row = cols.row(r);
  const facets = facetValues(t, r);
  const fromRow = { filename: row.filename, thumbnail: thumbnailPathFor(row.filename), labels: row.labels,
    primary_label: row.primaryLabel, patient_id: row.patient, age: row.age, sex: row.sex, view: row.view, facets };
  const ids = t.labelIds.subarray(t.labelStart[r], t.labelStart[r + 1]);
  const code = (names: readonly string[], i: number) => (i >= 0 ? names[i]! : "");
  const fromTable = { ...fromRow, labels: [...ids].map((j) => t.labelNames[j]!), patient_id: patientOf(t, r),
    age: Number.isNaN(t.age[r]!) ? null : t.age[r]!, sex: code(t.sexNames, t.sex[r]!), view: code(t.viewNames, t.view[r]!) };
  return { fromRow, fromTable };
}

function runColumns(inp: ColumnsInput): { rows: ReturnType<typeof comparable>[] } | { refused: boolean } {
  let cols: Columns;
  try {
    cols = new Columns(inp.metadata, inp.count);
  } catch (e) {
    return refusal(e);
  }
  const t = cols.rowTable();
  return {
    rows: Array.from({ length: inp.count }, (_, r) => {
      const { fromRow, fromTable } = decoded(cols, t, r);
      expect(fromTable, `row ${r}: the row table`).toEqual(fromRow);
      return fromRow;
    }),
  };
}

describe("parity: columnar metadata", () => {
  const t = table<ColumnsInput, { rows: PyRow[] } | { error: string }>("columns");
  it.each(named(t.cases))("%s", (_, c) => {
    const e = c.expected;
    agree(c, runColumns(c.input), "rows" in e ? { rows: e.rows.map(comparable) } : refusal(e.error));
  });
});
