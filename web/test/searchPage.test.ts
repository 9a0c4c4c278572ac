// The search page's parts: the URL state functions (search/params.ts), and the page itself rendered to markup with a
// client that is never called during a static render (effects do not run there).
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { SearchClient } from "../src/lib/protocol/searchClient";
import { SearchPage } from "../src/pages/SearchPage";
import { activeFilters } from "../src/pages/search/FilterPanel";
import { filtersFrom, labelMode, setLabelParam, setMinScoreParam, setQueryParam } from "../src/pages/search/params";
import type { ReadyInfo } from "../src/lib/protocol/messages";

describe("search URL state", () => {
  it("reads labels, the minimum score and facets; nothing set is no filter", () => {
    const f = filtersFrom(new URLSearchParams("inc=Effusion|Mass&exc=No Finding&min=0.25&f.modality=CR"));
    expect(f).toEqual({ include: ["Effusion", "Mass"], exclude: ["No Finding"], minScore: 0.25, facets: { modality: ["CR"] } });
    const none = filtersFrom(new URLSearchParams(""));
    expect(none.minScore).toBe(-1);
    expect(activeFilters(none)).toBe(false);
    expect(activeFilters(f)).toBe(true);
  });

  it("moves a label between modes, and back to the first page", () => {
    const p = new URLSearchParams("q=x&inc=Mass&pages=3");
    setLabelParam(p, "Effusion", "exclude");
    expect(p.get("exc")).toBe("Effusion");
    expect(p.has("pages")).toBe(false);
    setLabelParam(p, "Mass", "any");
    expect(p.has("inc")).toBe(false);
    setLabelParam(p, "Effusion", "include");
    expect([p.get("inc"), p.has("exc")]).toEqual(["Effusion", false]);
    expect(labelMode(filtersFrom(p), "Effusion")).toBe("include");
  });

  it("a new text query drops the row queries and the page count; an empty one clears q", () => {
    const p = new URLSearchParams("similar=3&like=4&pages=2&q=old&inc=Mass");
    setQueryParam(p, "  effusion ");
    expect(p.toString()).toBe("q=effusion&inc=Mass");
    setQueryParam(p, " ");
    expect(p.has("q")).toBe(false);
    setMinScoreParam(p, "0.3");
    expect(p.get("min")).toBe("0.3");
    setMinScoreParam(p, "");
    expect(p.has("min")).toBe(false);
  });
});

const READY = { labels: ["Effusion", "<b>Mass</b>"], facets: [], fallbackQueries: ["pleural effusion"] } as unknown as ReadyInfo;

describe("SearchPage", () => {
  const html = (query: string) =>
    renderToStaticMarkup(
      createElement(SearchPage, { client: {} as SearchClient, ready: READY, params: new URLSearchParams(query), navigate: () => {} }),
    );

  it("shows the query from the URL, the label filters as text, and opens the filters when one is set", () => {
    const out = html("q=pleural+effusion&inc=Effusion");
    expect(out).toContain('value="pleural effusion"');
    expect(out).toContain("&lt;b&gt;Mass&lt;/b&gt;");
    expect(out).toMatch(/<details[^>]*open=""/);
    expect(out).toContain("Filters (active)");
    expect(html("q=x")).not.toMatch(/<details[^>]*open=""/);
  });
});
