// The search filters (labels any/all/none, age range, sex, view, facets, the patient rule) as the one row predicate
// the worker ranks with, on both bundle formats: the same six images written as a version 1 and a version 2 bundle
// must rank alike under every filter. Also: the typed columns behind it, their counts, Find Similar's choice between
// the precomputed neighbours and a live ranking, and the cost at 500,000 rows.
import { describe, expect, it, vi } from "vitest";
import { Columns } from "../src/lib/contracts/bundleV2";
import { NO_FACETS } from "../src/lib/contracts/facets";
import { collectionCounts, rowTableV1, rowTableV2, valueCounts } from "../src/lib/contracts/rowTable";
import { ageFilter, hasFilters, labelFilter, neighborsAnswer, patientFilter, rowFilter, valueFilter, CollectionV1 } from "../src/worker/collection/collection";
import { CollectionV2 } from "../src/worker/collection/collectionV2";
import type { Filters } from "../src/lib/protocol/messages";
import { BASE, fileList, files, json, progress } from "./memoryFiles";

vi.mock("../src/lib/storage/cache", () => import("./memoryFiles").then((m) => m.cacheModule));

interface Img {
  labels: string[];
  patient: string;
  age: number | null;
  sex: string;
  view: string;
  modality?: string;
}

// r0 and r1: one patient (follow-up); r2 and r5: another; r3: nothing known
const IMAGES: Img[] = [
  { labels: ["Effusion"], patient: "p1", age: 30, sex: "F", view: "PA", modality: "CR" },
  { labels: ["Effusion", "Mass"], patient: "p1", age: 31, sex: "F", view: "AP", modality: "CR" },
  { labels: ["Mass"], patient: "p2", age: 60, sex: "M", view: "PA", modality: "DX" },
  { labels: [], patient: "", age: null, sex: "", view: "" },
  { labels: ["Effusion", "Mass", "Nodule"], patient: "p3", age: 45, sex: "M", view: "AP", modality: "CR" },
  { labels: ["Nodule"], patient: "p2", age: 75, sex: "F", view: "PA" },
];
const N = IMAGES.length;

function v1Entries() {
  return IMAGES.map((m, i) => ({
    id: i,
    filename: `img${i}.png`,
    thumbnail: `images/img${i}.webp`,
    labels: m.labels,
    primary_label: m.labels[0] ?? null,
    report: "",
    patient_id: m.patient || null,
    age: m.age,
    sex: m.sex || null,
    view: m.view || null,
    ...(m.modality ? { facets: { modality: m.modality } } : {}),
  }));
}

function v2Meta() {
  const tables = { labels: ["Effusion", "Mass", "Nodule"], patients: ["p1", "p2", "p3"], sex: ["F", "M"], view: ["PA", "AP"] };
  const code = (t: string[], v: string) => (v ? t.indexOf(v) : -1);
  const modalities = ["CR", "DX"];
  return {
    format: "medmir-bundle",
    count: N,
    tables,
    columns: {
      filename: IMAGES.map((_, i) => `img${i}.png`),
      labels: IMAGES.map((m) => m.labels.map((l) => tables.labels.indexOf(l))),
      primary_label: IMAGES.map((m) => (m.labels[0] ? tables.labels.indexOf(m.labels[0]) : -1)),
      patient: IMAGES.map((m) => code(tables.patients, m.patient)),
      age: IMAGES.map((m) => m.age),
      sex: IMAGES.map((m) => code(tables.sex, m.sex)),
      view: IMAGES.map((m) => code(tables.view, m.view)),
    },
    facets: { modality: { values: modalities, rows: IMAGES.map((m) => (m.modality ? modalities.indexOf(m.modality) : -1)) } },
  };
}

async function openV1() {
  const dim = 2;
  const emb = new Float32Array(N * dim);
  IMAGES.forEach((_, i) => emb.set([1 - i / 10, 0], i * dim)); // row 0 scores best, then 1, ...
  files.set("embeddings.bin", new Uint8Array(emb.buffer));
  files.set("fallback_results.json", json({ queries: [] }));
  files.set("metadata.json", json({ format: "medmir-bundle", count: N, images: v1Entries() }));
  return CollectionV1.open(BASE, { count: N, dim, files: fileList(["embeddings.bin", "fallback_results.json", "metadata.json"]) }, progress);
}

async function openV2() {
  files.set("metadata.json", json(v2Meta()));
  files.set("fallback_results.json", json({ queries: [] }));
  files.set("scales.f32", new Uint8Array(Float32Array.from(IMAGES.map((_, i) => 0.6 - i / 10)).buffer));
  files.set("thumbs.idx", new Uint8Array(new Uint32Array(2 * N).buffer));
  files.set("embeddings-000.i8", new Uint8Array(Int8Array.from(IMAGES.flatMap(() => [100, 0])).buffer));
  const names = ["metadata.json", "fallback_results.json", "scales.f32", "thumbs.idx", "embeddings-000.i8"];
  const info = { format: "medmir-bundle", format_version: 2, count: N, dim: 2, center: [0, 0], shard_rows: N, thumbs_per_pack: N,
    neighbors: { k: 0 }, files: fileList(names) };
  return CollectionV2.open(BASE, info, progress);
}

const f = (x: Partial<Filters>): Filters => ({ include: [], exclude: [], minScore: -1, ...x });

// filter -> the rows it keeps, best first (row order)
const CASES: [string, Partial<Filters>, number[]][] = [
  ["none", {}, [0, 1, 2, 3, 4, 5]],
  ["any of", { include: ["Effusion", "Nodule"] }, [0, 1, 4, 5]],
  ["all of", { all: ["Effusion", "Mass"] }, [1, 4]],
  ["any of and all of", { include: ["Nodule"], all: ["Mass"] }, [4]],
  ["all of, none of", { all: ["Mass"], exclude: ["Nodule"] }, [1, 2]],
  ["none of", { exclude: ["Mass", "Nodule"] }, [0, 3]],
  ["all of a label the collection lacks", { all: ["Mass", "Hernia"] }, []],
  ["any of a label the collection lacks", { include: ["Hernia"] }, []],
  ["none of a label the collection lacks", { exclude: ["Hernia"] }, [0, 1, 2, 3, 4, 5]],
  ["age from", { ageMin: 40 }, [2, 4, 5]],
  ["age to", { ageMax: 45 }, [0, 1, 4]],
  ["age range, bounds included", { ageMin: 31, ageMax: 60 }, [1, 2, 4]],
  ["sex", { sex: ["F"] }, [0, 1, 5]],
  ["both sexes: unknown left out", { sex: ["M", "F"] }, [0, 1, 2, 4, 5]],
  ["a sex the collection lacks", { sex: ["O"] }, []],
  ["view", { view: ["AP"] }, [1, 4]],
  ["facet", { facets: { modality: ["CR"] } }, [0, 1, 4]],
  ["the patient rule: row 0's follow-up out, row 0 stays", { exceptPatientOf: 0 }, [0, 2, 3, 4, 5]],
  ["the patient rule, another patient", { exceptPatientOf: 5 }, [0, 1, 3, 4, 5]],
  ["the patient rule, unknown patient: nothing out", { exceptPatientOf: 3 }, [0, 1, 2, 3, 4, 5]],
  [
    "everything at once",
    { include: ["Effusion"], exclude: ["Nodule"], sex: ["F", "M"], view: ["PA", "AP"], ageMin: 30, facets: { modality: ["CR"] }, exceptPatientOf: 1 },
    [1],
  ],
];

describe("the row filter on both bundle formats", () => {
  it.each(CASES)("%s", async (_, x, want) => {
    const q = Float32Array.from([1, 0]);
    for (const c of [await openV1(), await openV2()]) {
      expect(c.rank(q, 10, f(x)).map((h) => h.id), `version ${c.version}`).toEqual(want);
    }
  });

  it("with a minimum score", async () => {
    const q = Float32Array.from([1, 0]);
    const v1 = await openV1();
    // scores 1, 0.9, 0.8, ...: 0.75 keeps rows 0-2
    expect(v1.rank(q, 10, f({ sex: ["F"], minScore: 0.75 })).map((h) => h.id)).toEqual([0, 1]);
  });

  it("sends each row's patient, age, sex, view and facets, the same from both formats", async () => {
    const v1 = await openV1();
    const v2 = await openV2();
    const pick = (r: { patient?: string; age?: number | null; sex?: string; view?: string; facets?: Record<string, string> }) => ({
      patient: r.patient,
      age: r.age,
      sex: r.sex,
      view: r.view,
      facets: r.facets,
    });
    const want = IMAGES.map((m) => ({ patient: m.patient, age: m.age, sex: m.sex, view: m.view, facets: m.modality ? { modality: m.modality } : {} }));
    const ids = IMAGES.map((_, i) => i);
    expect(v1.rows(ids).map(pick)).toEqual(want);
    expect(v2.rows(ids).map(pick)).toEqual(want);
    expect(v1.counts()).toEqual(v2.counts());
    expect(v1.counts()).toEqual({
      labels: [{ value: "Effusion", count: 3 }, { value: "Mass", count: 3 }, { value: "Nodule", count: 2 }],
      sex: [{ value: "F", count: 3 }, { value: "M", count: 2 }],
      view: [{ value: "AP", count: 2 }, { value: "PA", count: 3 }],
      age: { min: 30, max: 75, known: 5 },
      patients: 3,
    });
    for (const c of [v1, v2]) {
      expect([c.samePatient(0, 1), c.samePatient(2, 5), c.samePatient(0, 2), c.samePatient(3, 3)]).toEqual([true, true, false, false]);
    }
  });
});

describe("the typed columns", () => {
  it("version 1: a label listed twice counts once; empty strings are unknown", () => {
    const t = rowTableV1([
      { ...v1Entries()[0]!, labels: ["A", "A", "B"] },
      { ...v1Entries()[3]!, patient_id: "", sex: "", view: "" },
    ]);
    expect(t.labelNames).toEqual(["A", "B"]);
    expect([...t.labelStart]).toEqual([0, 2, 2]);
    expect([...t.patient, ...t.sex, ...t.view]).toEqual([0, -1, 0, -1, 0, -1]);
    expect(Number.isNaN(t.age[1]!)).toBe(true);
  });

  it("version 2: from the checked columns; a table value that is empty is unknown", () => {
    const meta = v2Meta();
    meta.tables.patients[2] = ""; // row 4's patient
    const t = new Columns(meta, N).rowTable();
    expect([...t.patient]).toEqual([0, 0, 1, -1, -1, 1]);
    expect(t.facets.names).toEqual(["modality"]);
    const direct = rowTableV2(N, meta.tables, meta.columns, NO_FACETS);
    expect([...direct.labelIds]).toEqual([...t.labelIds]);
  });

  it("counts values in a natural order, leaving out unknown and unused ones", () => {
    expect(valueCounts(["10-14", "5-9", "x"], Int32Array.from([0, 1, 1, -1]))).toEqual([
      { value: "5-9", count: 2 },
      { value: "10-14", count: 1 },
    ]);
    const empty = rowTableV1([]);
    expect(collectionCounts(empty)).toEqual({ labels: [], sex: [], view: [], age: null, patients: 0 });
  });
});

describe("the parts of the row filter", () => {
  const t = rowTableV1(v1Entries());
  const pass = (a?: (r: number) => boolean) => IMAGES.map((_, i) => i).filter((r) => !a || a(r));

  it("each is undefined when unset", () => {
    expect(rowFilter(t, undefined)).toBeUndefined();
    expect(rowFilter(t, f({ all: [], sex: [], view: [], facets: {} }))).toBeUndefined();
    expect(labelFilter(t, f({}))).toBeUndefined();
    expect(valueFilter(t.sexNames, t.sex, [])).toBeUndefined();
    expect(ageFilter(t.age)).toBeUndefined();
    expect(patientFilter(t.patient, undefined)).toBeUndefined();
    expect(patientFilter(t.patient, 3)).toBeUndefined(); // unknown patient
  });

  it("an age bound of 0 is a bound", () => {
    expect(pass(ageFilter(t.age, 0))).toEqual([0, 1, 2, 4, 5]);
  });

  it("says when a filter is set (the precomputed results answer only searches without one)", () => {
    expect(hasFilters(undefined)).toBe(false);
    expect(hasFilters(f({}))).toBe(false);
    expect(hasFilters(f({ all: [], sex: [], view: [], facets: { modality: [] } }))).toBe(false);
    for (const x of [{ all: ["A"] }, { sex: ["F"] }, { view: ["PA"] }, { ageMin: 0 }, { ageMax: 9 }, { exceptPatientOf: 0 }, { minScore: 0 }]) {
      expect(hasFilters(f(x)), JSON.stringify(x)).toBe(true);
    }
  });
});

describe("Find similar: precomputed neighbours or a live ranking", () => {
  const same = (a: number, b: number) => Math.floor(a / 10) === Math.floor(b / 10); // rows 0-9: one patient, ...
  const near = [{ id: 21, score: 0.9 }, { id: 35, score: 0.8 }];

  it("the neighbours answer without filters, and with the patient rule when it leaves none of them out", () => {
    expect(neighborsAnswer(undefined, near, 1, same)).toBe(true);
    expect(neighborsAnswer(f({}), near, 1, same)).toBe(true);
    expect(neighborsAnswer(f({ exceptPatientOf: 1 }), near, 1, same)).toBe(true);
  });

  it("a live ranking when the rule leaves one out, or any filter is set", () => {
    expect(neighborsAnswer(f({ exceptPatientOf: 1 }), [...near, { id: 5, score: 0.7 }], 1, same)).toBe(false);
    expect(neighborsAnswer(f({ sex: ["F"] }), near, 1, same)).toBe(false);
    expect(neighborsAnswer(f({ minScore: 0.5 }), near, 1, same)).toBe(false);
    expect(neighborsAnswer(f({ include: ["Mass"], exceptPatientOf: 1 }), near, 1, same)).toBe(false);
  });
});

describe("at 500,000 rows", () => {
  it("filters by every field with no string work per row", () => {
    const n = 500_000;
    const labels = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? [0, 1] : i % 3 === 1 ? [1] : []));
    const t = rowTableV2(
      n,
      { labels: ["Effusion", "Mass"], patients: Array.from({ length: n / 4 }, (_, i) => `p${i}`), sex: ["F", "M"], view: ["PA", "AP"] },
      {
        labels,
        patient: Array.from({ length: n }, (_, i) => i >> 2), // four images per patient
        age: Array.from({ length: n }, (_, i) => (i % 10 === 0 ? null : i % 90)),
        sex: Array.from({ length: n }, (_, i) => i % 2),
        view: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0)),
      },
      NO_FACETS,
    );
    const accept = rowFilter(t, f({ include: ["Mass"], all: ["Effusion"], exclude: [], sex: ["F"], view: ["PA"], ageMin: 20, ageMax: 60, exceptPatientOf: 8 }))!;
    const t0 = performance.now();
    let kept = 0;
    for (let r = 0; r < n; r++) if (accept(r)) kept++;
    const ms = performance.now() - t0;
    let want = 0;
    for (let r = 0; r < n; r++) {
      const a = r % 10 === 0 ? NaN : r % 90;
      if (r % 3 === 0 && r % 2 === 0 && r % 5 !== 0 && a >= 20 && a <= 60 && (r === 8 || r >> 2 !== 2)) want++;
    }
    expect(kept).toBe(want);
    expect(kept).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1000); // generous: tens of ms on any machine
  });
});
