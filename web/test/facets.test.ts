// Facets (DICOM tag values per image): read from both bundle formats, the row filter the worker ranks with
// (together with the label include/exclude filter), and their state in the page's URL.
import { describe, expect, it, vi } from "vitest";
import { Columns } from "../src/lib/contracts/bundleV2";
import {
  facetFilter,
  facetsFrom,
  facetsV1,
  facetsV2,
  facetTitle,
  hasFacetFilters,
  NO_FACETS,
  setFacetParam,
  summarize,
  type FacetTable,
} from "../src/lib/contracts/facets";
import { rowTableV2 } from "../src/lib/contracts/rowTable";
import { CollectionV1, labelFilter, rowFilter } from "../src/worker/collection/collection";
import { CollectionV2 } from "../src/worker/collection/collectionV2";
import type { Filters } from "../src/lib/protocol/messages";
import { BASE, fileList, files, json, progress } from "./memoryFiles";

// The collections fetch their files through lib/storage/cache.ts: here they come from memory, by file name.
vi.mock("../src/lib/storage/cache", () => import("./memoryFiles").then((m) => m.cacheModule));

function entry(i: number, labels: string[], facets?: Record<string, unknown>) {
  const stem = `img${i}`;
  return { id: i, filename: `${stem}.dcm`, thumbnail: `images/${stem}.webp`, labels, primary_label: labels[0] ?? null,
    report: "", patient_id: null, age: null, sex: null, view: null, ...(facets ? { facets } : {}) };
}

/** Five version 1 rows: modality, body part, an age band on some, a name no site knows on one. */
const V1_IMAGES = [
  entry(0, ["Effusion"], { modality: "CR", body_part: "CHEST", age_band: "55-59" }),
  entry(1, ["No Finding"], { modality: "DX", body_part: "CHEST", age_band: "5-9" }),
  entry(2, ["Effusion", "Mass"], { modality: "CR", body_part: "HAND" }),
  entry(3, ["Mass"], { modality: "MR", "x<b>tag</b>": "1" }),
  entry(4, ["No Finding"]),
];

describe("facets of a version 1 bundle", () => {
  it("reads each entry's facets: names in the site's order, counts over the collection", () => {
    const t = facetsV1(V1_IMAGES);
    expect(t.names).toEqual(["modality", "body_part", "age_band", "x<b>tag</b>"]);
    expect([...t.rows[0]!].map((v) => (v < 0 ? null : t.values[0]![v]))).toEqual(["CR", "DX", "CR", "MR", null]);
    expect(summarize(t)).toEqual([
      { name: "modality", values: [{ value: "CR", count: 2 }, { value: "DX", count: 1 }, { value: "MR", count: 1 }] },
      { name: "body_part", values: [{ value: "CHEST", count: 2 }, { value: "HAND", count: 1 }] },
      // a natural order: "5-9" before "55-59"
      { name: "age_band", values: [{ value: "5-9", count: 1 }, { value: "55-59", count: 1 }] },
      { name: "x<b>tag</b>", values: [{ value: "1", count: 1 }] },
    ]);
  });

  it("has no facets when no entry has any (bundles as they were)", () => {
    const t = facetsV1([entry(0, ["A"]), entry(1, [])]);
    expect(t.names).toEqual([]);
    expect(summarize(t)).toEqual([]);
    expect(facetFilter(t, {})).toBeUndefined();
  });

  it("names the entry and facet of a malformed value", () => {
    expect(() => facetsV1([entry(0, []), entry(1, [], { modality: 3 })])).toThrow(/metadata.json: image 1: facet "modality" must be a string/);
    expect(() => facetsV1([{ facets: ["CR"] }])).toThrow(/metadata.json: image 0: facets must be an object/);
  });

  it("CollectionV1 sends the summary and ranks with facet and label filters", async () => {
    const dim = 2;
    // row i's embedding points the same way for every row, its length falling with i: row 0 scores best
    const emb = new Float32Array(V1_IMAGES.length * dim);
    V1_IMAGES.forEach((_, i) => emb.set([1 - i / 10, 0], i * dim));
    files.set("embeddings.bin", new Uint8Array(emb.buffer));
    files.set("fallback_results.json", json({ queries: [] }));
    files.set("metadata.json", json({ format: "medmir-bundle", count: V1_IMAGES.length, images: V1_IMAGES }));
    const info = { count: V1_IMAGES.length, dim, files: fileList(["embeddings.bin", "fallback_results.json", "metadata.json"]) };
    const c = await CollectionV1.open(BASE, info, progress);
    expect(c.facetSummary().map((f) => f.name)).toEqual(["modality", "body_part", "age_band", "x<b>tag</b>"]);
    const q = Float32Array.from([1, 0]);
    const ids = (f?: Filters) => c.rank(q, 10, f).map((h) => h.id);
    const none = { include: [], exclude: [], minScore: -1 };
    expect(ids()).toEqual([0, 1, 2, 3, 4]);
    expect(ids({ ...none, facets: {} })).toEqual([0, 1, 2, 3, 4]);
    expect(ids({ ...none, facets: { modality: ["CR"] } })).toEqual([0, 2]);
    expect(ids({ ...none, facets: { modality: ["CR", "DX"], body_part: ["CHEST"] } })).toEqual([0, 1]);
    expect(ids({ ...none, facets: { modality: ["CR", "DX"], body_part: [] } })).toEqual([0, 1, 2]);
    expect(ids({ ...none, include: ["Mass"], facets: { modality: ["CR"] } })).toEqual([2]);
    expect(ids({ ...none, exclude: ["Mass"], facets: { modality: ["CR", "MR"] } })).toEqual([0]);
    expect(ids({ ...none, facets: { modality: ["US"] } })).toEqual([]);
  });
});

/** A version 2 metadata.json of `n` rows, with the given facets. */
function metaV2(n: number, facets?: unknown) {
  const rows = Array.from({ length: n }, (_, i) => i);
  return {
    tables: { labels: ["Effusion", "Mass"], patients: ["p"], sex: [], view: [] },
    columns: {
      filename: rows.map((i) => `r${i}.dcm`),
      labels: rows.map((i) => (i % 2 ? [1] : [0])),
      primary_label: rows.map((i) => i % 2),
      patient: rows.map(() => 0),
      age: rows.map(() => null),
      sex: rows.map(() => -1),
      view: rows.map(() => -1),
    },
    ...(facets === undefined ? {} : { facets }),
  };
}

describe("facets of a version 2 bundle", () => {
  const facets = {
    study_year: { values: ["2019", "2021"], rows: [0, 1, 1, -1] },
    modality: { values: ["DX", "CR"], rows: [1, 1, 0, -1] },
  };

  it("reads the top-level facets", () => {
    const t = new Columns(metaV2(4, facets), 4).facets;
    expect(t.names).toEqual(["modality", "study_year"]);
    expect([...t.rows[0]!]).toEqual([1, 1, 0, -1]);
    expect(summarize(t)).toEqual([
      { name: "modality", values: [{ value: "CR", count: 2 }, { value: "DX", count: 1 }] },
      { name: "study_year", values: [{ value: "2019", count: 1 }, { value: "2021", count: 2 }] },
    ]);
    expect(new Columns(metaV2(4), 4).facets).toEqual(NO_FACETS);
  });

  it("names metadata.json and the facet of a malformed one", () => {
    const bad = (f: unknown) => () => new Columns(metaV2(4, f), 4);
    expect(bad({ modality: { values: ["CR"], rows: [0, 0, 0] } })).toThrow(/metadata.json: facet "modality": rows must list 4 values/);
    expect(bad({ modality: { values: ["CR"], rows: [0, 1, 0, 0] } })).toThrow(/metadata.json: facet "modality": row 1: 1 is not an index/);
    expect(bad({ modality: { values: ["CR"], rows: [0, -2, 0, 0] } })).toThrow(/facet "modality": row 1: -2/);
    expect(bad({ modality: { values: ["CR"], rows: [0, 0.5, 0, 0] } })).toThrow(/facet "modality": row 1: 0.5/);
    expect(bad({ modality: { values: ["CR"], rows: [0, "0", 0, 0] } })).toThrow(/facet "modality": row 1: "0"/);
    expect(bad({ age_band: { values: ["CR", 7], rows: [0, 0, 0, 0] } })).toThrow(/metadata.json: facet "age_band": values must list strings/);
    expect(bad({ age_band: { rows: [0, 0, 0, 0] } })).toThrow(/facet "age_band": values must list strings/);
    expect(bad({ view: null })).toThrow(/metadata.json: facet "view" must be an object/);
    expect(bad(["modality"])).toThrow(/metadata.json: facets must be an object/);
    expect(() => facetsV2({ modality: { values: [], rows: [] } }, 0)).not.toThrow();
  });

  it("CollectionV2 sends the summary and ranks with facet and label filters", async () => {
    const n = 4;
    const dim = 2;
    files.set("metadata.json", json(metaV2(n, facets)));
    files.set("fallback_results.json", json({ queries: [] }));
    files.set("scales.f32", new Uint8Array(Float32Array.from([0.4, 0.3, 0.2, 0.1]).buffer));
    files.set("thumbs.idx", new Uint8Array(new Uint32Array(2 * n).buffer));
    files.set("embeddings-000.i8", new Uint8Array(Int8Array.from([100, 0, 100, 0, 100, 0, 100, 0]).buffer));
    const names = ["metadata.json", "fallback_results.json", "scales.f32", "thumbs.idx", "embeddings-000.i8"];
    const info = { format: "medmir-bundle", format_version: 2, count: n, dim, center: [0, 0], shard_rows: n,
      thumbs_per_pack: n, neighbors: { k: 0 }, files: fileList(names) };
    const c = await CollectionV2.open(BASE, info, progress);
    expect(c.facetSummary().map((f) => [f.name, f.values.length])).toEqual([["modality", 2], ["study_year", 2]]);
    const q = Float32Array.from([1, 0]);
    const none = { include: [], exclude: [], minScore: -1 };
    const ids = (f?: Filters) => c.rank(q, 10, f).map((h) => h.id);
    expect(ids()).toEqual([0, 1, 2, 3]);
    expect(ids({ ...none, facets: { modality: ["CR"] } })).toEqual([0, 1]);
    expect(ids({ ...none, facets: { study_year: ["2021"] } })).toEqual([1, 2]);
    expect(ids({ ...none, facets: { modality: ["CR"], study_year: ["2021"] } })).toEqual([1]);
    expect(ids({ ...none, include: ["Effusion"], facets: { study_year: ["2021", "2019"] } })).toEqual([0, 2]);
    expect(ids({ ...none, exclude: ["Effusion"], facets: { modality: ["DX", "CR"] } })).toEqual([1]);
  });
});

describe("the row filter", () => {
  // rows: modality CR, DX, CR, unknown; body part CHEST, CHEST, unknown, HAND
  const t: FacetTable = {
    names: ["modality", "body_part"],
    values: [["CR", "DX"], ["CHEST", "HAND"]],
    rows: [Int32Array.from([0, 1, 0, -1]), Int32Array.from([0, 0, -1, 1])],
  };
  const pass = (accept: ((r: number) => boolean) | undefined) => [0, 1, 2, 3].filter((r) => !accept || accept(r));

  it("keeps a row whose value is listed, for every facet with a list; never an unknown value", () => {
    expect(facetFilter(t, undefined)).toBeUndefined();
    expect(facetFilter(t, { modality: [] })).toBeUndefined();
    expect(pass(facetFilter(t, { modality: ["CR"] }))).toEqual([0, 2]);
    expect(pass(facetFilter(t, { modality: ["CR", "DX"] }))).toEqual([0, 1, 2]);
    expect(pass(facetFilter(t, { modality: ["CR"], body_part: ["CHEST"] }))).toEqual([0]);
    expect(pass(facetFilter(t, { modality: ["CR"], body_part: [] }))).toEqual([0, 2]);
    expect(pass(facetFilter(t, { body_part: ["HAND", "FOOT"] }))).toEqual([3]);
  });

  it("keeps no row for a facet or value the collection lacks (as for an unknown label)", () => {
    expect(pass(facetFilter(t, { modality: ["MR"] }))).toEqual([]);
    expect(pass(facetFilter(t, { laterality: ["L"] }))).toEqual([]);
    expect(pass(facetFilter(NO_FACETS, { modality: ["CR"] }))).toEqual([]);
  });

  it("is one predicate with the label include/exclude filter", () => {
    const none = Array.from({ length: 4 }, () => -1);
    const rows = rowTableV2(
      4,
      { labels: ["Effusion", "Mass"], patients: [], sex: [], view: [] },
      { labels: [[0], [1], [0, 1], []], patient: none, age: none.map(() => null), sex: none, view: none },
      t,
    );
    const f = (x: Partial<Filters>): Filters => ({ include: [], exclude: [], minScore: -1, ...x });
    expect(rowFilter(rows, f({}))).toBeUndefined();
    expect(rowFilter(rows, f({ facets: {} }))).toBeUndefined();
    expect(pass(rowFilter(rows, f({ include: ["Mass"] })))).toEqual(pass(labelFilter(rows, f({ include: ["Mass"] }))));
    expect(pass(rowFilter(rows, f({ facets: { modality: ["CR"] } })))).toEqual([0, 2]);
    expect(pass(rowFilter(rows, f({ include: ["Mass"], facets: { modality: ["CR"] } })))).toEqual([2]);
    expect(pass(rowFilter(rows, f({ exclude: ["Mass"], facets: { modality: ["CR", "DX"] } })))).toEqual([0]);
    expect(pass(rowFilter(rows, f({ include: ["Effusion"], exclude: ["Mass"], facets: { body_part: ["CHEST"] } })))).toEqual([0]);
  });

  it("costs no string work per row at 500,000 rows", () => {
    const n = 500_000;
    const big: FacetTable = {
      names: ["modality", "age_band"],
      values: [["CR", "DX", "MR"], Array.from({ length: 20 }, (_, i) => `${5 * i}-${5 * i + 4}`)],
      rows: [Int32Array.from({ length: n }, (_, i) => (i % 4) - 1), Int32Array.from({ length: n }, (_, i) => i % 20)],
    };
    const accept = facetFilter(big, { modality: ["DX"], age_band: ["0-4", "5-9"] })!;
    const t0 = performance.now();
    let kept = 0;
    for (let r = 0; r < n; r++) if (accept(r)) kept++;
    const ms = performance.now() - t0;
    // DX is i % 4 == 2, age bands 0-4 and 5-9 are i % 20 in {0, 1}: i % 20 == 2 never; lcm(4, 20) = 20 -> none
    expect(kept).toBe(0);
    const accept2 = facetFilter(big, { modality: ["CR"], age_band: ["0-4", "5-9"] })!; // i % 4 == 1 and i % 20 == 1
    let kept2 = 0;
    for (let r = 0; r < n; r++) if (accept2(r)) kept2++;
    expect(kept2).toBe(n / 20);
    expect(ms).toBeLessThan(1000); // generous: tens of ms on any machine
  });
});

describe("facets in the URL", () => {
  it("round-trips a selection through a link", () => {
    const p = new URLSearchParams("q=effusion&inc=Mass&pages=3");
    setFacetParam(p, "modality", ["CR", "DX"], true);
    setFacetParam(p, "body part (0018,0015)", ["CHEST"]);
    setFacetParam(p, "odd", ["a|b", "c\\d", "é"]);
    expect(p.get("pages")).toBeNull();
    expect(p.get("f.modality")).toBe("CR|DX");
    const link = new URLSearchParams(p.toString());
    expect(facetsFrom(link)).toEqual({ modality: ["CR", "DX"], "body part (0018,0015)": ["CHEST"], odd: ["a|b", "c\\d", "é"] });
    expect(link.get("q")).toBe("effusion");
    expect(link.get("inc")).toBe("Mass");
  });

  it("drops a facet when no value is left, and ignores empty or repeated values", () => {
    const p = new URLSearchParams("f.modality=CR&f.view=PA");
    setFacetParam(p, "modality", []);
    expect(p.has("f.modality")).toBe(false);
    expect(facetsFrom(p)).toEqual({ view: ["PA"] });
    expect(facetsFrom(new URLSearchParams("f.modality=CR||CR|&f.=x&f.view=&inc=A"))).toEqual({ modality: ["CR"] });
    expect(hasFacetFilters(facetsFrom(new URLSearchParams("q=x")))).toBe(false);
    expect(hasFacetFilters({ modality: [] })).toBe(false);
    expect(hasFacetFilters({ modality: ["CR"] })).toBe(true);
  });

  it("shows known facets by their titles, others as they are", () => {
    expect(["modality", "body_part", "age_band", "study_year", "view"].map(facetTitle)).toEqual(["Modality", "Body part", "Age", "Study year", "View"]);
    expect(facetTitle("x<b>tag</b>")).toBe("x<b>tag</b>");
    expect(facetTitle("constructor")).toBe("constructor");
  });
});
