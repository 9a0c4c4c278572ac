// The search page's URL state for the filters and the patient-aware results (search/params.ts): every setter's
// output read back gives what was set, and a link (the URL's text) reproduces it.
import { describe, expect, it } from "vitest";
import {
  ageFrom,
  filtersFrom,
  groupedFrom,
  labelMode,
  rowQueryFilters,
  samePatientFrom,
  searchKey,
  setAgeParam,
  setGroupParam,
  setLabelParam,
  setQueryParam,
  setSameParam,
  setValuesParam,
} from "../src/pages/search/params";
import { setFacetParam } from "../src/lib/contracts/facets";

const link = (p: URLSearchParams) => new URLSearchParams(p.toString());

describe("filters in the URL", () => {
  it("round-trips labels any of / all of / none of, age, sex, view and facets through a link", () => {
    const p = new URLSearchParams("q=effusion&pages=3");
    setLabelParam(p, "Effusion", "include");
    setLabelParam(p, "Nodule", "include");
    setLabelParam(p, "Mass", "all");
    setLabelParam(p, "Pleural_Thickening", "all");
    setLabelParam(p, "No Finding", "exclude");
    setAgeParam(p, "40", "65");
    setValuesParam(p, "sex", ["F"]);
    setValuesParam(p, "view", ["PA", "AP", "PA"]);
    setFacetParam(p, "modality", ["CR"], true);
    expect(p.has("pages")).toBe(false);
    expect(p.toString()).toBe(
      "q=effusion&inc=Effusion%7CNodule&all=Mass%7CPleural_Thickening&exc=No+Finding&age=40-65&sex=F&view=PA%7CAP&f.modality=CR",
    );
    expect(filtersFrom(link(p))).toEqual({
      include: ["Effusion", "Nodule"],
      all: ["Mass", "Pleural_Thickening"],
      exclude: ["No Finding"],
      minScore: -1,
      facets: { modality: ["CR"] },
      ageMin: 40,
      ageMax: 65,
      sex: ["F"],
      view: ["PA", "AP"],
    });
  });

  it("moves a label between the modes: it is in one list at most", () => {
    const p = new URLSearchParams();
    setLabelParam(p, "Mass", "include");
    setLabelParam(p, "Mass", "all");
    expect([p.get("inc"), p.get("all"), p.get("exc")]).toEqual([null, "Mass", null]);
    expect(labelMode(filtersFrom(p), "Mass")).toBe("all");
    setLabelParam(p, "Mass", "exclude");
    expect(labelMode(filtersFrom(p), "Mass")).toBe("exclude");
    setLabelParam(p, "Mass", "any");
    expect(p.toString()).toBe("");
    expect(labelMode(filtersFrom(p), "Mass")).toBe("any");
  });

  it("an age range: open bounds, bad text ignored, cleared when both are empty", () => {
    const p = new URLSearchParams();
    setAgeParam(p, "40", "");
    expect(p.get("age")).toBe("40-");
    expect(filtersFrom(link(p))).toMatchObject({ ageMin: 40 });
    expect(filtersFrom(link(p)).ageMax).toBeUndefined();
    setAgeParam(p, "", " 7 ");
    expect(p.get("age")).toBe("-7");
    expect(ageFrom(p)).toEqual({ max: 7 });
    setAgeParam(p, "0", "0.5");
    expect(ageFrom(p)).toEqual({ min: 0, max: 0.5 });
    setAgeParam(p, "-3", "abc");
    expect(p.has("age")).toBe(false);
    for (const bad of ["x", "40", "1-2-3", "-", "a-b"]) expect(ageFrom(new URLSearchParams({ age: bad })), bad).toEqual({});
  });

  it("no filter set: none of the new fields", () => {
    const f = filtersFrom(new URLSearchParams("q=x"));
    expect(f).toEqual({ include: [], exclude: [], minScore: -1, facets: {} });
    setValuesParam(new URLSearchParams(), "sex", []);
  });
});

describe("patient-aware results in the URL", () => {
  it("grouping is on unless group=0, and toggling it is no new search", () => {
    const p = new URLSearchParams("q=x&inc=Mass");
    expect(groupedFrom(p)).toBe(true);
    const before = searchKey(p);
    setGroupParam(p, false);
    expect(p.get("group")).toBe("0");
    expect(groupedFrom(link(p))).toBe(false);
    expect(searchKey(p)).toBe(before);
    setGroupParam(p, true);
    expect(p.has("group")).toBe(false);
  });

  it("similar / like leave out the query's patient unless same=1; a text query drops same", () => {
    const p = new URLSearchParams("similar=12&sex=F&pages=2");
    expect(samePatientFrom(p)).toBe(false);
    expect(rowQueryFilters(p, 12)).toMatchObject({ exceptPatientOf: 12, sex: ["F"] });
    const key = searchKey(p);
    setSameParam(p, true);
    expect(p.get("same")).toBe("1");
    expect(p.has("pages")).toBe(false);
    expect(searchKey(p)).not.toBe(key); // a new search
    expect(rowQueryFilters(link(p), 12).exceptPatientOf).toBeUndefined();
    setQueryParam(p, "effusion");
    expect(p.toString()).toBe("sex=F&q=effusion");
    setSameParam(p, false);
    expect(p.has("same")).toBe(false);
  });
});
