/**
 * WordPiece tokenizer giving exactly the ids of medmir's Python tokenizer (src/medmir/model/tokenizer.py), which
 * itself gives open_clip's HFTokenizer ids except for ftfy's mojibake repair (docs/FORMAT.md, "Tokenizer").
 *
 * The cleaning step is a port of `ftfy.fix_text(text, fix_encoding=False)` (ftfy 6.3.1) followed by Python's
 * `html.unescape` twice and `" ".join(text.split())`. Every character table comes from Python 3.11 (Unicode 14) via
 * tokenizerTables.json (scripts/make_web_tables.py), never from the JS engine, whose Unicode version differs. The
 * only engine service used is String.prototype.normalize, and only on runs of characters Python knows: Unicode's
 * stability policy makes those normalise identically in any engine with Unicode >= 14, while characters Python sees
 * as unassigned are inert there (no decomposition, combining class 0) but may not be in a newer engine.
 *
 * Strings are handled as code points, as in Python: a lone surrogate is one code point, a surrogate pair one astral
 * character (Python would see two surrogates there, but ftfy joins such pairs before anything counts them).
 */
import rawTables from "./tokenizerTables.json";

interface Tables {
  html5: Record<string, string>;
  html5_legacy: string;
  ftfy_upper_same: string;
  ftfy_upper_other: Record<string, string>;
  invalid_charrefs: Record<string, string>;
  invalid_codepoints: number[];
  c1_windows_1252: number[];
  ligatures: Record<string, string>;
  width_map: Record<string, string>;
  control_chars: number[];
  single_quotes: number[];
  double_quotes: number[];
  decimal_digits: number[];
  py_isspace: number[];
  white_space: number[];
  cjk: number[];
  cat_cn: number[];
  cat_cc_cf_co_cs: number[];
  cat_p: number[];
  cat_mn: number[];
  lower: { runs: number[]; multi: Record<string, string> };
}

const T: Tables = rawTables;

// -- code point sets ------------------------------------------------------------------------------------------------

/** Inclusive [lo, hi] pairs from the tables' delta encoding. */
function decodeRanges(enc: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let prev = 0;
  for (let i = 0; i + 1 < enc.length; i += 2) {
    const lo = prev + (enc[i] ?? 0);
    const hi = lo + (enc[i + 1] ?? 0);
    out.push([lo, hi]);
    prev = hi;
  }
  return out;
}

class CodePointSet {
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  /** lo0, hi0 + 1, lo1, hi1 + 1, ...: a code point is inside when an odd number of bounds are <= it. */
  private readonly bounds: Uint32Array;

  constructor(ranges: ReadonlyArray<readonly [number, number]>) {
    this.ranges = ranges;
    this.bounds = new Uint32Array(ranges.length * 2);
    ranges.forEach(([lo, hi], i) => {
      this.bounds[2 * i] = lo;
      this.bounds[2 * i + 1] = hi + 1;
    });
  }

  static fromEncoded(enc: readonly number[]): CodePointSet {
    return new CodePointSet(decodeRanges(enc));
  }

  has(cp: number): boolean {
    const b = this.bounds;
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((b[mid] ?? 0) <= cp) lo = mid + 1;
      else hi = mid;
    }
    return (lo & 1) === 1;
  }

  /** The body of a regex character class (for the "u" flag) matching exactly this set. */
  regexClass(): string {
    return this.ranges.map(([lo, hi]) => (lo === hi ? esc(lo) : `${esc(lo)}-${esc(hi)}`)).join("");
  }
}

function esc(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function cpOf(ch: string): number {
  return ch.codePointAt(0) ?? 0;
}

function translator(table: Record<string, string>): (s: string) => string {
  const map = new Map<string, string>();
  for (const [cp, rep] of Object.entries(table)) map.set(String.fromCodePoint(Number(cp)), rep);
  const keys = [...map.keys()].map(cpOf).sort((a, b) => a - b);
  const re = new RegExp(`[${new CodePointSet(keys.map((k) => [k, k] as const)).regexClass()}]`, "gu");
  return (s) => s.replace(re, (ch) => map.get(ch) ?? ch);
}

// -- Python's html.unescape -----------------------------------------------------------------------------------------

const HTML5 = new Map<string, string>();
for (const [name, value] of Object.entries(T.html5)) HTML5.set(`${name};`, value);
for (const name of T.html5_legacy.split(" ")) {
  const value = HTML5.get(`${name};`);
  if (value !== undefined) HTML5.set(name, value);
}
const INVALID_CHARREFS = new Map<number, string>(Object.entries(T.invalid_charrefs).map(([k, v]) => [Number(k), v]));
const INVALID_CODEPOINTS = CodePointSet.fromEncoded(T.invalid_codepoints);
const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

function replaceCharref(s: string): string {
  if (s[0] === "#") {
    const hex = s[1] === "x" || s[1] === "X";
    const digits = (hex ? s.slice(2) : s.slice(1)).replace(/;$/, "");
    // Past 2**53 the value is inexact but still far above 0x10FFFF, which is all that matters then.
    const num = parseInt(digits, hex ? 16 : 10);
    const fixed = INVALID_CHARREFS.get(num);
    if (fixed !== undefined) return fixed;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return "\ufffd";
    if (INVALID_CODEPOINTS.has(num)) return "";
    return String.fromCodePoint(num);
  }
  const whole = HTML5.get(s);
  if (whole !== undefined) return whole;
  // The longest entity name that prefixes s (names without ";" are the legacy ones), as the HTML5 standard says.
  const cps = Array.from(s);
  for (let x = cps.length - 1; x > 1; x--) {
    const head = HTML5.get(cps.slice(0, x).join(""));
    if (head !== undefined) return head + cps.slice(x).join("");
  }
  return `&${s}`;
}

/** Python's `html.unescape`. */
export function htmlUnescape(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(CHARREF_RE, (_m: string, ref: string) => replaceCharref(ref));
}

// -- ftfy.fix_text(text, fix_encoding=False) ------------------------------------------------------------------------

const FTFY_ENTITIES = new Map<string, string>();
for (const [name, value] of Object.entries(T.html5)) FTFY_ENTITIES.set(`&${name};`, value);
for (const name of T.ftfy_upper_same.split(" ")) {
  const value = T.html5[name.toLowerCase()];
  if (value !== undefined) FTFY_ENTITIES.set(`&${name};`, value);
}
for (const [name, value] of Object.entries(T.ftfy_upper_other)) FTFY_ENTITIES.set(`&${name};`, value);
const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

function ftfyUnescapeHtml(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(FTFY_ENTITY_RE, (m) => {
    const named = FTFY_ENTITIES.get(m);
    if (named !== undefined) return named;
    if (m.startsWith("&#")) {
      const u = htmlUnescape(m);
      // Only a reference that consumed its semicolon counts (ftfy leaves "&#59;" alone for the same reason).
      return u.includes(";") ? m : u;
    }
    return m;
  });
}

const C1 = new Map<string, string>(
  T.c1_windows_1252.map((cp, i) => [String.fromCharCode(0x80 + i), String.fromCodePoint(cp)]),
);
const fixC1Controls = (s: string): string => s.replace(/[\x80-\x9f]/g, (ch) => C1.get(ch) ?? ch);
const fixLatinLigatures = translator(T.ligatures);
const fixCharacterWidth = translator(T.width_map);
const SINGLE_QUOTE_RE = new RegExp(`[${CodePointSet.fromEncoded(T.single_quotes).regexClass()}]`, "gu");
const DOUBLE_QUOTE_RE = new RegExp(`[${CodePointSet.fromEncoded(T.double_quotes).regexClass()}]`, "gu");
const uncurlQuotes = (s: string): string => s.replace(DOUBLE_QUOTE_RE, '"').replace(SINGLE_QUOTE_RE, "'");
const fixLineBreaks = (s: string): string =>
  s
    .replaceAll("\r\n", "\n")
    .replaceAll("\r", "\n")
    .replaceAll("\u2028", "\n")
    .replaceAll("\u2029", "\n")
    .replaceAll("\u0085", "\n");
// With the "u" flag a surrogate class matches lone surrogates only; pairs are already joined, as ftfy would.
const fixSurrogates = (s: string): string => s.replace(/[\uD800-\uDFFF]/gu, "\ufffd");
// Python's \d on str is any Unicode decimal digit, not just 0-9.
const ANSI_RE = new RegExp(
  `\\x1b\\[(?:[${CodePointSet.fromEncoded(T.decimal_digits).regexClass()};])*[a-zA-Z]`,
  "gu",
);
const removeTerminalEscapes = (s: string): string => s.replace(ANSI_RE, "");
const CONTROL_RE = new RegExp(`[${CodePointSet.fromEncoded(T.control_chars).regexClass()}]`, "gu");
const removeControlChars = (s: string): string => s.replace(CONTROL_RE, "");

const CAT_CN = CodePointSet.fromEncoded(T.cat_cn);
const KNOWN_RUN_RE = new RegExp(`[^${CAT_CN.regexClass()}]+`, "gu");
const ASCII_RE = /^[\x00-\x7f]*$/;

/**
 * `unicodedata.normalize(form, s)` of Python 3.11. Characters unassigned in Unicode 14 are starters without
 * decompositions there, so they split the text into independently normalised runs; a newer engine never sees them.
 */
function pyNormalize(s: string, form: "NFC" | "NFD"): string {
  if (ASCII_RE.test(s)) return s;
  return s.replace(KNOWN_RUN_RE, (run) => run.normalize(form));
}

function fixSegment(text: string, unescapeHtml: boolean): string {
  // ftfy applies its fixers in this order until nothing changes.
  for (;;) {
    const orig = text;
    if (unescapeHtml) text = ftfyUnescapeHtml(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = pyNormalize(text, "NFC");
    if (text === orig) return text;
  }
}

const MAX_DECODE_LENGTH = 1_000_000;

/** UTF-16 index after `n` code points from `pos` (or the end). */
function advanceCodePoints(s: string, pos: number, n: number): number {
  let i = pos;
  for (let k = 0; k < n && i < s.length; k++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
  }
  return i;
}

/** `ftfy.fix_text(text, fix_encoding=False)`: line by line; from the first line with "<" on, no HTML unescaping. */
export function ftfyFixText(text: string): string {
  let unescapeHtml = true;
  let out = "";
  let pos = 0;
  while (pos < text.length) {
    let brk = text.indexOf("\n", pos) + 1;
    if (brk === 0) brk = text.length;
    if (brk - pos > MAX_DECODE_LENGTH) brk = Math.min(brk, advanceCodePoints(text, pos, MAX_DECODE_LENGTH));
    const segment = text.slice(pos, brk);
    if (unescapeHtml && segment.includes("<")) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
    pos = brk;
  }
  return out;
}

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

export interface SpecialToken {
  token: string;
  id: number;
}

/** The fields of a model pack manifest's `tokenizer` section that drive tokenisation. */
export interface TokenizerSpec {
  lowercase: boolean;
  strip_accents: boolean;
  handle_chinese_chars: boolean;
  max_chars_per_word: number;
  continuing_subword_prefix: string;
  context_length: number;
  special_tokens: {
    pad: SpecialToken;
    unk: SpecialToken;
    cls: SpecialToken;
    sep: SpecialToken;
    mask: SpecialToken;
  };
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
