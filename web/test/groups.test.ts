// Patient-aware results: grouping (lib/results/groups.ts), the counts among the results (lib/results/resultCounts.ts),
// and the result list rendered grouped (markup only: no DOM in these tests).
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { ResultList } from "../src/components/ResultList";
import { groupByPatient, hasSharedPatients, moreText } from "../src/lib/results/groups";
import { resultCounts } from "../src/lib/results/resultCounts";
import type { SearchClient } from "../src/lib/protocol/searchClient";
import type { HitOut, RowInfo } from "../src/lib/protocol/messages";

const row = (filename: string, patient: string, extra: Partial<RowInfo> = {}): RowInfo => ({
  filename,
  labels: [],
  thumbnail: null,
  patient,
  ...extra,
});

// flat ranking: a1 (patient A), b1 (B), a2 (A), u1 (unknown), u2 (unknown), a3 (A), c1 (C)
const ROWS = [row("a1", "A"), row("b1", "B"), row("a2", "A"), row("u1", ""), row("u2", ""), row("a3", "A"), row("c1", "C")];
const HITS: HitOut[] = ROWS.map((_, i) => ({ id: 100 + i, score: 0.9 - i / 100 }));

describe("grouping results by patient", () => {
  it("a group per patient, at its best image's rank; its other images keep their own ranks", () => {
    const g = groupByPatient(HITS, ROWS);
    expect(g.map((x) => [x.lead.row.filename, x.lead.rank, x.more.map((m) => [m.row.filename, m.rank])])).toEqual([
      ["a1", 1, [["a2", 3], ["a3", 6]]],
      ["b1", 2, []],
      ["u1", 4, []],
      ["u2", 5, []], // an unknown patient is nobody's follow-up
      ["c1", 7, []],
    ]);
    expect(new Set(g.map((x) => x.key)).size).toBe(g.length);
  });

  it("off: every image on its own, in rank order", () => {
    const g = groupByPatient(HITS, ROWS, false);
    expect(g.map((x) => [x.lead.rank, x.more.length])).toEqual(ROWS.map((_, i) => [i + 1, 0]));
  });

  it("every image is in exactly one group", () => {
    const g = groupByPatient(HITS, ROWS);
    const ranks = g.flatMap((x) => [x.lead.rank, ...x.more.map((m) => m.rank)]).sort((a, b) => a - b);
    expect(ranks).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("a hit without its row is left out; no hits, no groups", () => {
    expect(groupByPatient(HITS.slice(0, 2), [ROWS[0]!])).toHaveLength(1);
    expect(groupByPatient([], [])).toEqual([]);
  });

  it("knows when grouping changes anything, and says how many more", () => {
    expect(hasSharedPatients(ROWS)).toBe(true);
    expect(hasSharedPatients([row("x", "A"), row("y", ""), row("z", "")])).toBe(false);
    expect(moreText(1)).toBe("+1 more image of this patient");
    expect(moreText(3)).toBe("+3 more images of this patient");
  });
});

describe("counts among the results", () => {
  it("counts each label once per image, sex, view, facets and known ages", () => {
    const c = resultCounts([
      row("a", "A", { labels: ["Mass", "Mass", "Effusion"], sex: "F", view: "PA", age: 40, facets: { modality: "CR" } }),
      row("b", "B", { labels: ["Mass"], sex: "M", view: "PA", age: null, facets: { modality: "DX" } }),
      row("c", "", { labels: [], sex: "", view: "" }),
    ]);
    expect(c.n).toBe(3);
    expect(Object.fromEntries(c.labels)).toEqual({ Mass: 2, Effusion: 1 });
    expect(Object.fromEntries(c.sex)).toEqual({ F: 1, M: 1 });
    expect(Object.fromEntries(c.view)).toEqual({ PA: 2 });
    expect(Object.fromEntries(c.facets.get("modality")!)).toEqual({ CR: 1, DX: 1 });
    expect(c.aged).toBe(1);
    // a label named like an object property is just a label
    expect(resultCounts([row("x", "", { labels: ["__proto__", "constructor"] })]).labels.get("__proto__")).toBe(1);
  });
});

describe("the result list, grouped", () => {
  const client = { thumbnailUrl: () => Promise.resolve(null) } as unknown as SearchClient;
  const html = (grouped: boolean) => renderToStaticMarkup(createElement(ResultList, { hits: HITS, rows: ROWS, client, grouped }));
  const cards = (out: string) => [...out.matchAll(/data-testid="result" data-rank="(\d+)"[^>]*data-filename="([^"]+)"/g)].map((m) => [Number(m[1]), m[2]]);

  it("shows one card per patient at the rank of its best image, with a button for the others (folded)", () => {
    const out = html(true);
    expect(cards(out)).toEqual([[1, "a1"], [2, "b1"], [4, "u1"], [5, "u2"], [7, "c1"]]);
    const buttons = [...out.matchAll(/<button[^>]*data-testid="group-more"[^>]*>([^<]*)<\/button>/g)];
    expect(buttons.map((b) => b[1])).toEqual(["+2 more images of this patient"]);
    expect(buttons[0]![0]).toContain('type="button"');
    expect(buttons[0]![0]).toContain('aria-expanded="false"');
  });

  it("off: a card per image, no buttons", () => {
    const out = html(false);
    expect(cards(out).map((c) => c[0])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(out).not.toContain("group-more");
  });
});
