// Words with exclusions: "effusion -cardiomegaly" searches for effusion and away from cardiomegaly (the query vector is
// normalize(e("effusion") - 0.5 e("cardiomegaly")), worker/rank/compose.ts). A word or a quoted phrase that starts with
// '-' is excluded ( -"pleural effusion" excludes the phrase); quotes keep a leading '-' literal ("-2 cm nodule").

export interface ParsedQuery {
  /** the words searched for, quotes removed */
  words: string;
  /** the excluded words or phrases, in order */
  exclude: string[];
}

export type ParseResult = { ok: true; query: ParsedQuery } | { ok: false; error: string };

export const ONLY_EXCLUSIONS =
  "A query cannot be only exclusions: add what to search for, e.g. “effusion -cardiomegaly”.";

/** Splits `raw` into the words searched for and the excluded ones; an error for a query that is only exclusions. */
export function parseQuery(raw: string): ParseResult {
  const words: string[] = [];
  const exclude: string[] = [];
  let i = 0;
  const n = raw.length;
  while (i < n) {
    while (i < n && /\s/.test(raw[i]!)) i++;
    if (i >= n) break;
    // one token: unquoted characters up to whitespace, and quoted runs (which may hold whitespace)
    let excluded = false;
    if (raw[i] === "-" && i + 1 < n && !/\s/.test(raw[i + 1]!)) {
      excluded = true;
      i++;
    }
    let text = "";
    while (i < n && !/\s/.test(raw[i]!)) {
      if (raw[i] === '"') {
        const end = raw.indexOf('"', i + 1);
        const stop = end < 0 ? n : end;
        text += raw.slice(i + 1, stop);
        i = end < 0 ? n : end + 1;
      } else {
        text += raw[i];
        i++;
      }
    }
    const t = text.trim().replace(/\s+/g, " ");
    if (!t) continue;
    (excluded ? exclude : words).push(t);
  }
  if (exclude.length && !words.length) return { ok: false, error: ONLY_EXCLUSIONS };
  return { ok: true, query: { words: words.join(" "), exclude } };
}
