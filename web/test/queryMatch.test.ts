import { describe, expect, it } from "vitest";
import { canonicalWords, matchFallback, normalizeQuery, type FallbackEntry } from "../src/worker/rank/queryMatch";

const entry = (query: string): FallbackEntry => ({ query, normalized: normalizeQuery(query), ids: [1], scores: [0.5] });
const ENTRIES = ["pleural effusion", "normal chest x-ray", "pulmonary edema", "cardiomegaly with pulmonary edema", "collapsed lung"].map(entry);

describe("normalizeQuery (same rule as Python's bundle.format.normalize_query)", () => {
  it.each([
    ["Chest X-Ray!", "chest x ray"],
    ["  pleural   effusion ", "pleural effusion"],
    ["5mm nodule, RUL", "5mm nodule rul"],
    ["café", "caf"],
    ["", ""],
    ["<b>x</b>", "b x b"],
  ])("%s -> %s", (q, want) => expect(normalizeQuery(q)).toBe(want));
});

describe("matchFallback", () => {
  it("exact: same normalised key", () => {
    expect(matchFallback("Pleural Effusion.", ENTRIES)).toMatchObject({ kind: "exact", entry: { query: "pleural effusion" } });
  });
  it("fuzzy: spelling variants, word order, one typo", () => {
    expect(matchFallback("normal chest xray", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "normal chest x-ray" } });
    expect(matchFallback("normal CXR", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "normal chest x-ray" } });
    expect(matchFallback("pulmonary oedema", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "pulmonary edema" } });
    expect(matchFallback("effusion pleural", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "pleural effusion" } });
    expect(matchFallback("pleural efusion", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "pleural effusion" } });
    expect(matchFallback("collapsed lungs", ENTRIES)).toMatchObject({ kind: "fuzzy", entry: { query: "collapsed lung" } });
  });
  it("anything else goes live", () => {
    expect(matchFallback("pleural thickening", ENTRIES)).toBeNull();
    expect(matchFallback("effusion", ENTRIES)).toBeNull();
    expect(matchFallback("pleural effusion with cardiomegaly", ENTRIES)).toBeNull();
    expect(matchFallback("cardiomegaly", ENTRIES)).toBeNull();
    expect(matchFallback("!!!", ENTRIES)).toBeNull();
    expect(matchFallback("lung", ENTRIES)).toBeNull(); // short words need an exact match
  });
  it("canonical words drop stopwords and map variants", () => {
    expect(canonicalWords("an X-Ray of the lungs")).toEqual(["lung", "ray", "x"]);
  });
});
