import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { cleanText, parseVocab, WordPieceTokenizer } from "../src/worker/model/tokenizer";

const VOCAB_PATH = new URL("../../../shared/models/biomedclip/vocab.txt", import.meta.url);
const GOLDEN_PATH = new URL("../../tests/fixtures/tokenizer_golden.json", import.meta.url);
const FUZZ_PATH = new URL("./fixtures/tokenizer_fuzz.json", import.meta.url);

interface GoldenCase {
  name: string;
  category: string;
  text: string;
  ids: number[];
  reference_ids?: number[];
}
interface Golden {
  vocab_sha256: string;
  context_length: number;
  cases: GoldenCase[];
}
interface Fuzz {
  seed: number;
  vocab_sha256: string;
  cases: Array<[string, number[]]>;
}

const vocabBytes = readFileSync(VOCAB_PATH);
const vocab = parseVocab(new TextDecoder("utf-8", { ignoreBOM: true }).decode(vocabBytes));
const golden = JSON.parse(readFileSync(GOLDEN_PATH, "utf-8")) as Golden;
const fuzz = JSON.parse(readFileSync(FUZZ_PATH, "utf-8")) as Fuzz;
const tok = new WordPieceTokenizer(vocab);

function mismatches(rows: Array<{ name: string; text: string; want: number[] }>): string[] {
  const bad: string[] = [];
  for (const r of rows) {
    const got = tok.encode(r.text);
    if (JSON.stringify(got) !== JSON.stringify(r.want)) {
      bad.push(`${r.name} ${JSON.stringify(r.text.slice(0, 60))}: got ${JSON.stringify(got)} want ${JSON.stringify(r.want)}`);
    }
  }
  return bad;
}

describe("WordPieceTokenizer against Python", () => {
  it("uses the vocab the fixtures were made with", () => {
    const sha = createHash("sha256").update(vocabBytes).digest("hex");
    expect(golden.vocab_sha256).toBe(sha);
    expect(fuzz.vocab_sha256).toBe(sha);
  });

  it("gives the ids of every golden case", () => {
    expect(golden.cases.length).toBeGreaterThan(600);
    const bad = mismatches(golden.cases.map((c) => ({ name: c.name, text: c.text, want: c.ids })));
    expect(bad, `${bad.length} mismatches:\n${bad.join("\n")}`).toEqual([]);
  });

  it("differs from the reference only where Python does (ftfy's mojibake repair)", () => {
    const differing = golden.cases.filter((c) => c.reference_ids !== undefined);
    expect(differing.length).toBeGreaterThan(0);
    for (const c of differing) expect(tok.encode(c.text), c.name).not.toEqual(c.reference_ids);
  });

  it("gives Python's ids on the seeded fuzz strings", () => {
    expect(fuzz.cases.length).toBeGreaterThanOrEqual(2000);
    const bad = mismatches(fuzz.cases.map(([text, want], i) => ({ name: `fuzz-${i}`, text, want })));
    expect(bad, `${bad.length} mismatches:\n${bad.slice(0, 20).join("\n")}`).toEqual([]);
  });
});

describe("WordPieceTokenizer", () => {
  const small = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "𝑥", "##𝑥", "b"];

  it("truncates to the context length and keeps the final [SEP]", () => {
    const t = new WordPieceTokenizer(small, { context_length: 5 });
    expect(t.encode("a b a b a b")).toEqual([2, 5, 9, 5, 3]);
    expect(tok.encode("effusion ".repeat(400)).length).toBe(256);
    expect(tok.encode("effusion ".repeat(400)).at(-1)).toBe(3);
  });

  it("turns literal special tokens into their ids, case-sensitively", () => {
    const t = new WordPieceTokenizer(small);
    expect(t.encode("a[SEP]b")).toEqual([2, 5, 3, 9, 3]);
    expect(t.encode("[MASK][PAD]")).toEqual([2, 4, 0, 3]);
    expect(t.encode("[sep]")).toEqual([2, 1, 1, 1, 3]); // "[", "sep" (no piece), "]": all unknown in this vocab
  });

  it("counts max_chars_per_word in code points", () => {
    const t = new WordPieceTokenizer(small, { max_chars_per_word: 3 });
    expect(t.encode("𝑥𝑥𝑥")).toEqual([2, 7, 8, 8, 3]); // 6 UTF-16 units, 3 code points
    expect(t.encode("𝑥𝑥𝑥𝑥")).toEqual([2, 1, 3]);
    expect(tok.encode("a".repeat(101))).toEqual([2, 1, 3]);
    // 60 astral letters are 120 UTF-16 units but only 60 characters: pieces, not [UNK].
    const e = vocab.indexOf("𝑒");
    const ee = vocab.indexOf("##𝑒");
    expect(e).toBeGreaterThan(4);
    expect(tok.encode("𝑒".repeat(60))).toEqual([2, e, ...Array<number>(59).fill(ee), 3]);
  });

  it("makes a word [UNK] when any part has no piece", () => {
    const t = new WordPieceTokenizer(small);
    expect(t.encode("aab aac")).toEqual([2, 1, 1, 3]);
    expect(t.encode("aa")).toEqual([2, 5, 6, 3]);
  });

  it("checks the vocab and the spec", () => {
    expect(() => parseVocab("")).toThrow(/vocabulary is empty/);
    expect(parseVocab("[PAD]\r\n[UNK]\r\n")).toEqual(["[PAD]", "[UNK]"]);
    expect(parseVocab("a\n\nb")).toEqual(["a", "", "b"]);
    expect(() => new WordPieceTokenizer([])).toThrow(/vocabulary is empty/);
    expect(() => new WordPieceTokenizer(["[PAD]", "[UNK]"])).toThrow(/lacks special tokens/);
    const spec = new WordPieceTokenizer(small).spec;
    expect(spec.special_tokens.mask).toEqual({ token: "[MASK]", id: 4 });
    const wrong = { ...spec.special_tokens, sep: { token: "[SEP]", id: 7 } };
    expect(() => new WordPieceTokenizer(small, { special_tokens: wrong })).toThrow(/\[SEP\] has id 3/);
    expect(new WordPieceTokenizer(small, { context_length: undefined }).spec.context_length).toBe(256);
  });

  it("cleans like open_clip without mojibake repair", () => {
    expect(cleanText("  a&amp;amp;b\u3000\u00a0c  ")).toBe("a&b c");
    expect(cleanText("\ufb01ne \u201cq\u201d")).toBe('fine "q"');
    expect(cleanText("<b>&amp;</b>")).toBe("<b>&</b>");
  });

  it("cuts lines longer than ftfy's max_decode_length (10**6 code points) where Python does", () => {
    // ftfy fixes each piece separately, so an entity cut in two is only unescaped twice (by html.unescape).
    for (const u of ["b", "𝑒"]) {
      const cut = cleanText(u.repeat(999_999) + "&amp;amp;amp;");
      expect(cut.slice(cut.lastIndexOf(u))).toBe(`${u}&amp;`);
      const whole = cleanText(u.repeat(999_980) + "&amp;amp;amp;");
      expect(whole.slice(whole.lastIndexOf(u))).toBe(`${u}&`);
    }
  });

  it("normalises characters unassigned in Python's Unicode 14 as Python does, whatever the engine knows", () => {
    // U+10EFD is a combining mark (class 220) from Unicode 15; to Python it is an unassigned starter, which blocks
    // composing "a" with U+0300. An engine with Unicode >= 15 would give "\u00e0\u0316\u{10EFD}".
    expect(cleanText("a\u0316\u{10EFD}\u0300")).toBe("a\u0316\u{10EFD}\u0300");
  });

  it("encodes a 30-word query in well under a millisecond", () => {
    const c0 = performance.now();
    const fresh = new WordPieceTokenizer(vocab);
    console.log(`construction: ${(performance.now() - c0).toFixed(1)} ms for ${vocab.length} tokens`);
    expect(fresh.encode("effusion")).toEqual(tok.encode("effusion"));
    const query =
      "Frontal chest radiograph shows a moderate right pleural effusion with adjacent basilar atelectasis, " +
      "mild cardiomegaly, no pneumothorax, and stable postoperative changes after CABG (sternotomy wires).";
    for (let i = 0; i < 200; i++) tok.encode(query);
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) tok.encode(query);
    const perCall = (performance.now() - t0) / n;
    console.log(`encode: ${(perCall * 1000).toFixed(1)} µs per 30-word query`);
    expect(perCall).toBeLessThan(0.5);
  });
});
