// The search page's facet filters, rendered to markup (no DOM in these tests): grouped and labelled checkboxes,
// plain text for names and values, and nothing at all for a collection without facets.
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { FacetFilters } from "../src/components/FacetFilters";
import type { FacetSelection, FacetSummary } from "../src/lib/contracts/facets";

const html = (facets: FacetSummary[], selected: FacetSelection = {}) =>
  renderToStaticMarkup(createElement(FacetFilters, { facets, selected, onChange: () => {} }));

const FACETS: FacetSummary[] = [
  { name: "modality", values: [{ value: "CR", count: 1200 }, { value: "DX", count: 3 }] },
  { name: "x<b>tag</b>", values: [{ value: "<i>1</i>", count: 1 }] },
];

describe("FacetFilters", () => {
  it("renders nothing for a collection without facets", () => {
    expect(html([])).toBe("");
  });

  it("groups each facet's checkboxes in a fieldset with its title, values with their counts", () => {
    const out = html(FACETS, { modality: ["DX"] });
    expect(out.match(/<fieldset/g)).toHaveLength(2);
    expect(out).toContain("<legend");
    expect(out).toMatch(/<legend[^>]*>Modality<\/legend>/);
    expect(out).toMatch(/<label[^>]*><input type="checkbox"\/><span[^>]*>CR<\/span><span[^>]*>\(1,200\)<\/span><\/label>/);
    expect(out).toMatch(/<input type="checkbox" checked=""\/><span[^>]*>DX<\/span>/);
  });

  it("shows names and values as text, never markup", () => {
    const out = html(FACETS);
    expect(out).toContain("x&lt;b&gt;tag&lt;/b&gt;");
    expect(out).toContain("&lt;i&gt;1&lt;/i&gt;");
    expect(out).not.toContain("<b>");
    expect(out).not.toContain("<i>");
  });

  it("lists a value the link chose that the collection lacks, so it can be cleared", () => {
    expect(html([], { modality: ["US"] })).toMatch(/checked=""\/><span[^>]*>US<\/span><span[^>]*>\(0\)/);
    expect(html(FACETS, { modality: ["US"] })).toContain(">US<");
  });
});
