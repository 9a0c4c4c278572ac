// Exporting results (lib/results/exportResults.ts) and the evidence of an image query (lib/results/evidence.ts).
import { describe, expect, it } from "vitest";
import { countText, labelCounts } from "../src/lib/results/evidence";
import { csvCell, exportRows, toCsv, toJson } from "../src/lib/results/exportResults";

describe("CSV and JSON export", () => {
  it("escapes commas, quotes and line breaks (RFC 4180)", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell("cr\rhere")).toBe('"cr\rhere"');
    expect(csvCell("")).toBe("");
  });

  it("guards text cells a spreadsheet would run as a formula", () => {
    for (const s of ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"]) expect(csvCell(s)).toBe(`'${s}`);
    expect(csvCell('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell("a=b")).toBe("a=b");
    // numbers are numbers: a negative score is not a formula
    expect(csvCell(-0.25)).toBe("-0.25");
    expect(csvCell(3)).toBe("3");
  });

  it("one line per shown result, in rank order, with the answering path", () => {
    const rows = exportRows(
      [{ score: 0.5 }, { score: -0.125 }],
      [
        { filename: "a,1.png", labels: ["Effusion", "Mass"], patient: "p-7" },
        { filename: "=cmd.png", labels: [] },
      ],
      "live",
    );
    expect(rows).toEqual([
      { rank: 1, filename: "a,1.png", score: 0.5, labels: ["Effusion", "Mass"], patient: "p-7", path: "live" },
      { rank: 2, filename: "=cmd.png", score: -0.125, labels: [], patient: "", path: "live" },
    ]);
    expect(toCsv(rows)).toBe(
      'rank,filename,score,labels,patient,path\r\n1,"a,1.png",0.5,Effusion|Mass,p-7,live\r\n2,\'=cmd.png,-0.125,,,live\r\n',
    );
    const json = JSON.parse(toJson(rows, "q:effusion"));
    expect(json.query).toBe("q:effusion");
    expect(json.results).toEqual(rows);
    expect(json.note).toMatch(/not a diagnosis/);
  });
});

describe("evidence: labels among the nearest images", () => {
  it("counts each label once per image, most frequent first, ties by name", () => {
    const counts = labelCounts([
      { labels: ["Effusion", "Mass"] },
      { labels: ["Effusion"] },
      { labels: ["Atelectasis", "Effusion", "Effusion"] },
      { labels: [] },
      { labels: ["Mass"] },
    ]);
    expect(counts).toEqual([
      { label: "Effusion", count: 3 },
      { label: "Mass", count: 2 },
      { label: "Atelectasis", count: 1 },
    ]);
    expect(countText(counts[0]!, 10)).toBe("Effusion 3 of 10");
  });
});
