// The character tables of Python 3.11 (Unicode 14) that the tokenizer and its ftfy port read, never the JS
// engine's own (its Unicode version differs): tokenizerTables.json, written by scripts/make_web_tables.py, the code
// point sets built from it, and Python's normalisation. The only engine service used is String.prototype.normalize,
// and only on runs of characters Python knows: Unicode's stability policy makes those normalise identically in any
// engine with Unicode >= 14, while characters Python sees as unassigned are inert there (no decomposition,
// combining class 0) but may not be in a newer engine.
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

export const TABLES: Tables = rawTables;

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

export class CodePointSet {
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

export function cpOf(ch: string): number {
  return ch.codePointAt(0) ?? 0;
}

/** General category Cn: unassigned in Unicode 14. */
export const CAT_CN = CodePointSet.fromEncoded(TABLES.cat_cn);
const KNOWN_RUN_RE = new RegExp(`[^${CAT_CN.regexClass()}]+`, "gu");
const ASCII_RE = /^[\x00-\x7f]*$/;

/**
 * `unicodedata.normalize(form, s)` of Python 3.11. Characters unassigned in Unicode 14 are starters without
 * decompositions there, so they split the text into independently normalised runs; a newer engine never sees them.
 */
export function pyNormalize(s: string, form: "NFC" | "NFD"): string {
  if (ASCII_RE.test(s)) return s;
  return s.replace(KNOWN_RUN_RE, (run) => run.normalize(form));
}
