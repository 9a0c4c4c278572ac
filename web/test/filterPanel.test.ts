// The filter panel rendered to markup: the label modes, sex / view / age next to the facets, each value's count among
// the results shown and in the collection; and the note that an uploaded image cannot be put in a link.
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { resultCounts } from "../src/lib/results/resultCounts";
import type { SearchClient } from "../src/lib/protocol/searchClient";
import { SearchPage } from "../src/pages/SearchPage";
import { activeFilters, FilterPanel } from "../src/pages/search/FilterPanel";
import { filtersFrom } from "../src/pages/search/params";
import type { ReadyInfo, RowInfo } from "../src/lib/protocol/messages";

const READY = {
  labels: ["Effusion", "Mass"],
  facets: [],
  fallbackQueries: [],
  counts: {
    labels: [{ value: "Effusion", count: 1200 }, { value: "Mass", count: 30 }],
    sex: [{ value: "F", count: 700 }, { value: "M", count: 800 }],
    view: [{ value: "AP", count: 500 }, { value: "PA", count: 1000 }],
    age: { min: 1, max: 94, known: 1490 },
    patients: 900,
  },
} as unknown as ReadyInfo;

const ROWS: RowInfo[] = [
  { filename: "a", labels: ["Effusion"], thumbnail: null, sex: "F", view: "PA", age: 50 },
  { filename: "b", labels: ["Effusion", "Mass"], thumbnail: null, sex: "F", view: "AP", age: null },
];

const html = (query: string, rows: RowInfo[] | null) =>
  renderToStaticMarkup(
    createElement(FilterPanel, { ready: READY, filters: filtersFrom(new URLSearchParams(query)), go: () => {}, shown: rows && resultCounts(rows) }),
  );

describe("FilterPanel", () => {
  it("offers any / one of / must have / must not have per label, the URL's mode selected", () => {
    const out = html("all=Mass", null);
    expect(out).toMatch(/<option value="all" selected="">must have<\/option>/);
    expect(out).toContain('<option value="include">one of</option>');
    expect(out).toContain('<option value="exclude">must not have</option>');
  });

  it("shows collection counts, and among the results once there are some", () => {
    expect(html("", null)).toContain("(1,200)");
    const out = html("", ROWS);
    expect(out).toMatch(/data-shown="2" data-total="1200">\(2 \/ 1,200\)/);
    expect(out).toMatch(/data-shown="1" data-total="30">\(1 \/ 30\)/);
    expect(out).toMatch(/data-field="sex"[\s\S]*F<\/span><span[^>]*data-shown="2" data-total="700"/);
    expect(out).toMatch(/data-field="view"[\s\S]*PA<\/span><span[^>]*data-shown="1" data-total="1000"/);
    expect(out).toContain("1,490 images have a known age (1 of the 2 results)");
  });

  it("keeps a chosen value the collection lacks, so a link can be cleared; reads the age range", () => {
    const out = html("sex=O&age=40-", null);
    expect(out).toMatch(/checked=""\/><span[^>]*>O<\/span><span[^>]*>\(0\)/);
    expect(out).toMatch(/aria-label="Minimum age in years"[^>]*value="40"|value="40"[^>]*aria-label="Minimum age in years"/);
  });

  it("counts every new filter as active", () => {
    for (const q of ["all=Mass", "sex=F", "view=PA", "age=-9", "age=0-"]) expect(activeFilters(filtersFrom(new URLSearchParams(q))), q).toBe(true);
    expect(activeFilters(filtersFrom(new URLSearchParams("q=x&group=0&same=1")))).toBe(false);
  });
});

describe("SearchPage", () => {
  it("says by the upload that an uploaded image cannot be put in a link", () => {
    const out = renderToStaticMarkup(
      createElement(SearchPage, { client: {} as SearchClient, ready: READY, params: new URLSearchParams(""), navigate: () => {} }),
    );
    expect(out).toMatch(/data-testid="upload-link-note"[^>]*>[^<]*cannot be put in a link/);
  });
});
