/**
 * WordPiece tokenizer giving exactly the ids of medmir's Python tokenizer (src/medmir/model/tokenizer.py), which
 * itself gives open_clip's HFTokenizer ids except for ftfy's mojibake repair (docs/FORMAT.md, "Tokenizer").
 *
 * The cleaning step is a port of `ftfy.fix_text(text, fix_encoding=False)` (ftfy.ts) followed by Python's
 * `html.unescape` twice and `" ".join(text.split())`. Every character table comes from Python 3.11 (Unicode 14) via
 * tokenizerTables.json (unicodeTables.ts), never from the JS engine, whose Unicode version differs.
 */
import type { SpecialToken, TokenizerSpec } from "../../lib/contracts/bundle";
import { ftfyFixText, htmlUnescape } from "./ftfy";
import { CAT_CN, CodePointSet, cpOf, pyNormalize, TABLES as T } from "./unicodeTables";

const PY_SPACE_RUN_RE = new RegExp(`[${CodePointSet.fromEncoded(T.py_isspace).regexClass()}]+`, "u");

/** open_clip's whitespace cleaning with ftfy's mojibake repair off, exactly as medmir's `clean_text`. */
export function cleanText(text: string): string {
  const t = htmlUnescape(htmlUnescape(ftfyFixText(text)));
  // Python's strip() then " ".join(split()): runs of str.isspace() characters become one space.
  return t
    .split(PY_SPACE_RUN_RE)
    .filter((w) => w !== "")
    .join(" ");
}

// -- BERT normaliser, pre-tokeniser, WordPiece ------------------------------------------------------------------------

const CAT_C_OTHER = CodePointSet.fromEncoded(T.cat_cc_cf_co_cs);
const CAT_P = CodePointSet.fromEncoded(T.cat_p);
const CAT_MN = CodePointSet.fromEncoded(T.cat_mn);
const WHITE_SPACE = CodePointSet.fromEncoded(T.white_space);
const CJK = CodePointSet.fromEncoded(T.cjk);

const LOWER = new Map<number, string>();
{
  const r = T.lower.runs;
  let start = 0;
  for (let i = 0; i + 3 < r.length; i += 4) {
    start += r[i] ?? 0;
    const count = r[i + 1] ?? 0;
    const step = r[i + 2] ?? 1;
    const delta = r[i + 3] ?? 0;
    for (let k = 0; k < count; k++) LOWER.set(start + k * step, String.fromCodePoint(start + k * step + delta));
  }
  for (const [cp, low] of Object.entries(T.lower.multi)) LOWER.set(Number(cp), low);
}

function isControl(cp: number): boolean {
  if (cp === 9 || cp === 10 || cp === 13) return false;
  return CAT_CN.has(cp) || CAT_C_OTHER.has(cp);
}

function isPunctuation(cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  return CAT_P.has(cp);
}

/** BiomedCLIP's settings, as medmir's Python TokenizerSpec defaults. */
export const DEFAULT_TOKENIZER_SPEC: TokenizerSpec = {
  lowercase: true,
  strip_accents: true,
  handle_chinese_chars: true,
  max_chars_per_word: 100,
  continuing_subword_prefix: "##",
  context_length: 256,
  special_tokens: {
    pad: { token: "[PAD]", id: 0 },
    unk: { token: "[UNK]", id: 1 },
    cls: { token: "[CLS]", id: 2 },
    sep: { token: "[SEP]", id: 3 },
    mask: { token: "[MASK]", id: 4 },
  },
};

/**
 * A vocab file's text -> tokens (id = line number): split on "\n", drop one trailing empty line, strip trailing
 * "\r", as medmir's `load_vocab`. Decode the bytes with `new TextDecoder("utf-8", { ignoreBOM: true })` to keep a
 * byte-order mark where Python keeps it.
 */
export function parseVocab(text: string): string[] {
  const tokens = text.split("\n");
  if (tokens.length > 0 && tokens[tokens.length - 1] === "") tokens.pop();
  if (tokens.length === 0) throw new Error("vocabulary is empty");
  return tokens.map((t) => t.replace(/\r+$/, ""));
}

export class WordPieceTokenizer {
  readonly spec: TokenizerSpec;
  readonly vocab: readonly string[];
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  private readonly ids = new Map<string, number>();
  /** Longest first: at a given position the reference matches the longest special token. */
  private readonly specials: Array<{ token: string; id: number }>;

  constructor(vocab: string[], spec?: Partial<TokenizerSpec>) {
    if (vocab.length === 0) throw new Error("vocabulary is empty");
    this.vocab = vocab;
    vocab.forEach((tok, i) => {
      if (!this.ids.has(tok)) this.ids.set(tok, i);
    });
    // Field by field: a Partial may carry explicit undefineds, which must not override the defaults.
    const d = DEFAULT_TOKENIZER_SPEC;
    const merged: TokenizerSpec = {
      lowercase: spec?.lowercase ?? d.lowercase,
      strip_accents: spec?.strip_accents ?? d.strip_accents,
      handle_chinese_chars: spec?.handle_chinese_chars ?? d.handle_chinese_chars,
      max_chars_per_word: spec?.max_chars_per_word ?? d.max_chars_per_word,
      continuing_subword_prefix: spec?.continuing_subword_prefix ?? d.continuing_subword_prefix,
      context_length: spec?.context_length ?? d.context_length,
      special_tokens: spec?.special_tokens ?? d.special_tokens,
    };
    const entries = Object.entries(merged.special_tokens) as Array<[keyof TokenizerSpec["special_tokens"], SpecialToken]>;
    const missing = entries.filter(([, s]) => !this.ids.has(s.token)).map(([, s]) => s.token);
    if (missing.length > 0) throw new Error(`vocabulary lacks special tokens ${JSON.stringify(missing)}`);
    // Ids come from the vocab, as in Python; ids given explicitly (a manifest) must agree with it.
    const resolved = { ...merged.special_tokens };
    for (const [key, s] of entries) {
      const id = this.ids.get(s.token) ?? -1;
      if (spec?.special_tokens !== undefined && s.id !== id) {
        throw new Error(`special token ${s.token} has id ${id} in the vocabulary, the spec says ${s.id}`);
      }
      resolved[key] = { token: s.token, id };
    }
    this.spec = { ...merged, special_tokens: resolved };
    this.padId = resolved.pad.id;
    this.unkId = resolved.unk.id;
    this.clsId = resolved.cls.id;
    this.sepId = resolved.sep.id;
    // Stable sort, like Python's sorted(): equal lengths keep pad, unk, cls, sep, mask order.
    this.specials = entries.map(([, s]) => ({ token: s.token, id: this.ids.get(s.token) ?? -1 }));
    this.specials.sort((a, b) => cpLength(b.token) - cpLength(a.token));
  }

  /** Ids with [CLS] and [SEP], truncated to the context length, unpadded. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const [segment, specialId] of this.splitSpecials(cleanText(text))) {
      if (specialId !== undefined) {
        ids.push(specialId);
        continue;
      }
      for (const word of this.preTokenize(this.normalize(segment))) this.wordpiece(word, ids);
    }
    // Python's ids[: n - 2], negative bounds included.
    const kept = ids.slice(0, this.spec.context_length - 2);
    return [this.clsId, ...kept, this.sepId];
  }

  /** Special tokens written literally in the text become those tokens. "[" only starts at code point boundaries. */
  private *splitSpecials(text: string): Generator<[string, number | undefined]> {
    let start = 0;
    let i = text.indexOf("[");
    while (i !== -1) {
      const hit = this.specials.find((s) => text.startsWith(s.token, i));
      if (hit === undefined) {
        i = text.indexOf("[", i + 1);
        continue;
      }
      if (start < i) yield [text.slice(start, i), undefined];
      yield [hit.token, hit.id];
      start = i + hit.token.length;
      i = text.indexOf("[", start);
    }
    if (start < text.length) yield [text.slice(start), undefined];
  }

  private normalize(text: string): string {
    let s = "";
    for (const ch of text) {
      const cp = cpOf(ch);
      if (cp === 0 || cp === 0xfffd || isControl(cp)) continue;
      if (WHITE_SPACE.has(cp)) s += " ";
      else if (this.spec.handle_chinese_chars && CJK.has(cp)) s += ` ${ch} `;
      else s += ch;
    }
    if (!this.spec.strip_accents && !this.spec.lowercase) return s;
    if (this.spec.strip_accents) s = pyNormalize(s, "NFD");
    let out = "";
    for (const ch of s) {
      const cp = cpOf(ch);
      if (this.spec.strip_accents && CAT_MN.has(cp)) continue;
      out += this.spec.lowercase ? (LOWER.get(cp) ?? ch) : ch;
    }
    return out;
  }

  private preTokenize(text: string): string[] {
    const words: string[] = [];
    let cur = "";
    for (const ch of text) {
      const cp = cpOf(ch);
      if (WHITE_SPACE.has(cp)) {
        if (cur !== "") words.push(cur);
        cur = "";
      } else if (isPunctuation(cp)) {
        if (cur !== "") words.push(cur);
        cur = "";
        words.push(ch);
      } else {
        cur += ch;
      }
    }
    if (cur !== "") words.push(cur);
    return words;
  }

  /** Greedy longest-match-first over code points; appends to `out`. */
  private wordpiece(word: string, out: number[]): void {
    // offsets[k]: UTF-16 index of code point k, so pieces are sliced on code point boundaries.
    const offsets: number[] = [];
    for (let i = 0; i < word.length; ) {
      offsets.push(i);
      const c = word.charCodeAt(i);
      const next = word.charCodeAt(i + 1);
      i += c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    }
    const n = offsets.length;
    offsets.push(word.length);
    if (n > this.spec.max_chars_per_word) {
      out.push(this.unkId);
      return;
    }
    const prefix = this.spec.continuing_subword_prefix;
    const pieces: number[] = [];
    let start = 0;
    while (start < n) {
      let end = n;
      let found: number | undefined;
      const from = offsets[start] ?? 0;
      while (start < end) {
        const sub = word.slice(from, offsets[end]);
        found = this.ids.get(start === 0 ? sub : prefix + sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const id of pieces) out.push(id);
  }
}

function cpLength(s: string): number {
  return Array.from(s).length;
}
