/**
 * The tokenizer's cleaning step, ported: `ftfy.fix_text(text, fix_encoding=False)` (ftfy 6.3.1) and Python's
 * `html.unescape`, character for character as Python 3.11 does them (tables and normalisation: unicodeTables.ts).
 *
 * Strings are handled as code points, as in Python: a lone surrogate is one code point, a surrogate pair one astral
 * character (Python would see two surrogates there, but ftfy joins such pairs before anything counts them).
 */
import { CodePointSet, cpOf, pyNormalize, TABLES as T } from "./unicodeTables";

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
