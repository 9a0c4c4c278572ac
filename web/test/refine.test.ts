// Composed and refined queries on the page: the query parser (lib/query/queryParse.ts), their URL state
// (pages/search/refineParams.ts) and the keyboard moves through the result grid (pages/search/resultKeys.ts).
import { describe, expect, it } from "vitest";
import { ONLY_EXCLUSIONS, parseQuery } from "../src/lib/query/queryParse";
import { setQueryParam } from "../src/pages/search/params";
import { clearMarks, composedPlan, isImageQuery, marksFrom, setAddWords, setImageBase, toggleMark } from "../src/pages/search/refineParams";
import { columnsOf, nextIndex } from "../src/pages/search/resultKeys";

const parsed = (raw: string) => {
  const r = parseQuery(raw);
  if (!r.ok) throw new Error(r.error);
  return r.query;
};

describe("query parser: words with exclusions", () => {
  it("splits words from exclusions", () => {
    expect(parsed("effusion -cardiomegaly")).toEqual({ words: "effusion", exclude: ["cardiomegaly"] });
    expect(parsed("  left   effusion -mass -nodule ")).toEqual({ words: "left effusion", exclude: ["mass", "nodule"] });
    expect(parsed("pleural effusion")).toEqual({ words: "pleural effusion", exclude: [] });
  });

  it("a '-' inside a word, or alone, is literal", () => {
    expect(parsed("chest x-ray - normal")).toEqual({ words: "chest x-ray - normal", exclude: [] });
  });

  it("quotes keep a leading '-' literal and group phrases", () => {
    expect(parsed('"-2 cm" nodule')).toEqual({ words: "-2 cm nodule", exclude: [] });
    expect(parsed('effusion -"pleural thickening"')).toEqual({ words: "effusion", exclude: ["pleural thickening"] });
    expect(parsed('"unclosed quote -x')).toEqual({ words: "unclosed quote -x", exclude: [] });
    expect(parsed('mass -""')).toEqual({ words: "mass", exclude: [] });
  });

  it("a query that is only exclusions is an error", () => {
    expect(parseQuery("-cardiomegaly -effusion")).toEqual({ ok: false, error: ONLY_EXCLUSIONS });
    expect(parseQuery("")).toEqual({ ok: true, query: { words: "", exclude: [] } });
  });
});

describe("refine URL state", () => {
  it("reads marks; a row marked both ways counts as relevant", () => {
    expect(marksFrom(new URLSearchParams("pos=12|40|x|12&neg=7|40"))).toEqual({ pos: [12, 40], neg: [7] });
    expect(marksFrom(new URLSearchParams(""))).toEqual({ pos: [], neg: [] });
  });

  it("toggles a mark, moves it between + and -; the page count stays", () => {
    const p = new URLSearchParams("q=effusion&pages=3");
    toggleMark(p, 12, "pos");
    toggleMark(p, 40, "pos");
    toggleMark(p, 7, "neg");
    expect(p.toString()).toBe("q=effusion&pages=3&pos=12%7C40&neg=7");
    toggleMark(p, 12, "neg");
    expect(marksFrom(p)).toEqual({ pos: [40], neg: [7, 12] });
    toggleMark(p, 12, "neg");
    expect(marksFrom(p)).toEqual({ pos: [40], neg: [7] });
    clearMarks(p);
    expect(p.toString()).toBe("q=effusion&pages=3");
  });

  it("a new text query drops the marks, the image and the added words", () => {
    const p = new URLSearchParams("img=1&pos=1&neg=2&add=mass&inc=Mass");
    setQueryParam(p, "effusion");
    expect(p.toString()).toBe("inc=Mass&q=effusion");
  });

  it("plans composed queries: exclusions, marks, added words; plain searches stay plain", () => {
    const plan = (s: string) => composedPlan(new URLSearchParams(s));
    expect(plan("q=effusion")).toBeNull();
    expect(plan("like=3")).toBeNull();
    expect(plan("similar=3")).toBeNull();
    expect(plan("")).toBeNull();
    expect(plan("q=effusion -cardiomegaly")).toEqual({
      key: "q:effusion -cardiomegaly",
      spec: { base: { kind: "text", text: "effusion" }, minus: ["cardiomegaly"], plus: "", pos: [], neg: [] },
    });
    expect(plan("q=-cardiomegaly")).toEqual({ key: "q:-cardiomegaly", error: ONLY_EXCLUSIONS });
    expect(plan("q=pleural effusion&pos=4|5&neg=6&add=ignored")).toEqual({
      key: "q:pleural effusion&pos=4|5&neg=6",
      spec: { base: { kind: "text", text: "pleural effusion" }, minus: [], plus: "", pos: [4, 5], neg: [6] },
    });
    expect(plan("like=3&add= effusion ")).toEqual({
      key: "like:3&add=effusion",
      spec: { base: { kind: "row", row: 3 }, minus: [], plus: "effusion", pos: [], neg: [] },
    });
    expect(plan("similar=9&neg=2")?.spec).toEqual({ base: { kind: "row", row: 9 }, minus: [], plus: "", pos: [], neg: [2] });
    expect(plan("img=1")).toEqual({ key: "image", spec: { base: { kind: "image" }, minus: [], plus: "", pos: [], neg: [] } });
  });

  it("the uploaded image as the base; words added to it", () => {
    const p = new URLSearchParams("q=x&like=2&pos=1&pages=2&exc=Mass");
    setImageBase(p);
    expect(p.toString()).toBe("exc=Mass&img=1");
    setAddWords(p, " effusion ");
    expect(p.get("add")).toBe("effusion");
    expect(isImageQuery(p)).toBe(true);
    setAddWords(p, "");
    expect(p.has("add")).toBe(false);
    expect(isImageQuery(new URLSearchParams("q=x"))).toBe(false);
    expect(isImageQuery(new URLSearchParams("similar=1"))).toBe(true);
  });
});

describe("keyboard moves in the result grid", () => {
  it("counts the columns from the cards' tops", () => {
    expect(columnsOf([10, 10, 10, 10, 300, 300])).toBe(4);
    expect(columnsOf([10, 300, 600])).toBe(1);
    expect(columnsOf([])).toBe(1);
  });

  it("arrows move along the reading order and by rows; Home and End; edges hold", () => {
    // 10 cards in 4 columns: rows 0-3, 4-7, 8-9
    expect(nextIndex("ArrowRight", 0, 10, 4)).toBe(1);
    expect(nextIndex("ArrowRight", 3, 10, 4)).toBe(4);
    expect(nextIndex("ArrowRight", 9, 10, 4)).toBe(9);
    expect(nextIndex("ArrowLeft", 0, 10, 4)).toBe(0);
    expect(nextIndex("ArrowLeft", 4, 10, 4)).toBe(3);
    expect(nextIndex("ArrowDown", 1, 10, 4)).toBe(5);
    expect(nextIndex("ArrowDown", 6, 10, 4)).toBe(6);
    expect(nextIndex("ArrowDown", 5, 10, 4)).toBe(9);
    expect(nextIndex("ArrowUp", 9, 10, 4)).toBe(5);
    expect(nextIndex("ArrowUp", 2, 10, 4)).toBe(2);
    expect(nextIndex("Home", 7, 10, 4)).toBe(0);
    expect(nextIndex("End", 0, 10, 4)).toBe(9);
    expect(nextIndex("a", 0, 10, 4)).toBeNull();
    expect(nextIndex("ArrowRight", 0, 0, 4)).toBeNull();
  });
});
