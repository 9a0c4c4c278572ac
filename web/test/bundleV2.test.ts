// Bundle format version 2 read in TypeScript. The whole-bundle suite runs on a bundle Python has just written
// (tests/test_bundle_v2.py sets MEDMIR_V2_BUNDLE and writes expect.json beside it): same rows, same top 10.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Int8Ranker } from "../src/worker/rank/int8Ranking";
import {
  Columns,
  embeddingShard,
  parseInfoV2,
  shardCount,
  thumbnailRange,
  type InfoV2,
} from "../src/lib/contracts/bundleV2";

describe("bundle v2 parts", () => {
  it("names the broken field of index_info.json", () => {
    expect(() => parseInfoV2({ format: "medmir-bundle", format_version: 1 })).toThrow(/format_version 2/);
    const ok = { format: "medmir-bundle", format_version: 2, count: 2, dim: 2, center: [0, 0], shard_rows: 4,
      thumbs_per_pack: 4, neighbors: { k: 1 }, files: {} };
    expect(parseInfoV2(ok).center).toEqual(new Float32Array([0, 0]));
    expect(() => parseInfoV2({ ...ok, center: [0] })).toThrow(/center must list 2 numbers/);
    expect(() => parseInfoV2({ ...ok, shard_rows: 0 })).toThrow(/shard_rows/);
  });

  it("scores by the documented rule", () => {
    const rows = new Int8Ranker(2, 2, Float32Array.from([1, 2]));
    rows.setScales(Float32Array.from([0.5, 0.25]));
    rows.addRows(Int8Array.from([127, 0, -127, 64]));
    const q = Float32Array.from([1, 1]);
    expect(rows.exact(0, q)).toBeCloseTo(0.5 * 127 + 3, 5);
    expect(rows.exact(1, q)).toBeCloseTo(0.25 * (-127 + 64) + 3, 5);
    expect(() => rows.addRows(new Int8Array(2))).toThrow(/do not fit/);
    expect(() => new Int8Ranker(2, 2, new Float32Array(2)).setScales(new Float32Array(3))).toThrow(/3 values for 2 rows/);
  });

  it("decodes columns and refuses bad indices", () => {
    const meta = {
      tables: { labels: ["A", "B"], patients: ["p"], sex: ["F"], view: ["PA"] },
      columns: { filename: ["x.png"], labels: [[1, 0]], primary_label: [1], patient: [0], age: [null], sex: [-1], view: [0] },
    };
    expect(new Columns(meta, 1).row(0)).toEqual(
      { filename: "x.png", labels: ["B", "A"], primaryLabel: "B", patient: "p", age: null, sex: "", view: "PA" },
    );
    expect(new Columns(meta, 1).labelIds(0)).toEqual([1, 0]);
    meta.columns.labels = [[2]];
    expect(() => new Columns(meta, 1)).toThrow(/row 0: 2 is not an index of table labels/);
    expect(() => new Columns(meta, 2)).toThrow(/column filename must list 2/);
    expect(() => new Columns({ ...meta, tables: { ...meta.tables, sex: [1] } }, 1)).toThrow(/table sex must list strings/);
  });

  it("finds a thumbnail's pack and byte range", () => {
    const index = Uint32Array.from([0, 10, 10, 5, 0, 7]);
    expect(thumbnailRange(index, 1, 2)).toEqual({ file: "thumbs-000.pack", start: 10, end: 14 });
    expect(thumbnailRange(index, 2, 2)).toEqual({ file: "thumbs-001.pack", start: 0, end: 6 });
    expect(() => thumbnailRange(index, 3, 2)).toThrow(/no thumbnail for row 3/);
  });
});

const dir = process.env["MEDMIR_V2_BUNDLE"];

interface Expected {
  queries: number[][];
  top10: number[][];
  scores: number[][];
  rows: Record<string, { filename: string; labels: string[]; patient: string }>;
  thumb: { row: number; file: string; start: number; end: number };
}

describe.runIf(dir)("a version 2 bundle Python wrote (MEDMIR_V2_BUNDLE)", () => {
  // read lazily: a skipped suite's body still runs at collection
  const read = (name: string): Buffer => readFileSync(join(dir!, name));
  const info = (): InfoV2 => parseInfoV2(JSON.parse(read("index_info.json").toString("utf8")));
  const want = (): Expected => JSON.parse(read("expect.json").toString("utf8")) as Expected;

  function loadRows(i: InfoV2, simd: boolean): Int8Ranker {
    const rows = new Int8Ranker(i.count, i.dim, i.center, simd);
    const sc = read("scales.f32");
    rows.setScales(new Float32Array(sc.buffer.slice(sc.byteOffset, sc.byteOffset + sc.length)));
    for (let s = 0; s < shardCount(i.count, i.shardRows); s++) rows.addRows(new Int8Array(read(embeddingShard(s))));
    return rows;
  }

  it.each([true, false])("ranks every query as Python does (SIMD %s)", (simd) => {
    const rows = loadRows(info(), simd);
    expect(rows.kernel).toBe(simd ? "wasm-simd-int8" : "js");
    const w = want();
    w.queries.forEach((q, i) => {
      const hits = rows.rank(Float32Array.from(q), 10);
      expect(hits.map((h) => h.id)).toEqual(w.top10[i]);
      hits.forEach((h, r) => expect(h.score).toBeCloseTo(w.scores[i]![r]!, 5));
    });
  });

  it("decodes the metadata rows", () => {
    const cols = new Columns(JSON.parse(read("metadata.json").toString("utf8")), info().count);
    for (const [r, row] of Object.entries(want().rows)) {
      const got = cols.row(Number(r));
      expect({ filename: got.filename, labels: got.labels, patient: got.patient }).toEqual(row);
    }
  });

  it("finds a thumbnail in its pack", () => {
    const idx = read("thumbs.idx");
    const index = new Uint32Array(idx.buffer, idx.byteOffset, idx.length / 4);
    const { row, ...range } = want().thumb;
    expect(thumbnailRange(index, row, info().thumbsPerPack)).toEqual(range);
    const bytes = read(range.file).subarray(range.start, range.end + 1);
    expect(bytes.subarray(0, 4).toString("latin1")).toBe("RIFF");
    expect(bytes.subarray(8, 12).toString("latin1")).toBe("WEBP");
  });
});
