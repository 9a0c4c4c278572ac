// The shown results as a file: CSV (RFC 4180) and JSON, made in the page (a Blob download; nothing is sent). Pure
// serializers: the page passes what it shows.

export interface ExportRow {
  rank: number;
  filename: string;
  score: number;
  labels: string[];
  /** the patient's pseudonym where the bundle has one, else "" */
  patient: string;
  /** the path that answered: exact, fuzzy, live, image, row, neighbors, composed, refined */
  path: string;
}

export const CSV_COLUMNS = ["rank", "filename", "score", "labels", "patient", "path"] as const;

/** Labels in one CSV cell, joined as the URL joins them. */
export const LABEL_SEPARATOR = "|";

/** The rows of a result, best first, ranks from 1. */
export function exportRows(
  hits: readonly { score: number }[],
  rows: readonly { filename: string; labels: string[]; patient?: string | null }[],
  path: string,
): ExportRow[] {
  return hits.flatMap((h, i) => {
    const r = rows[i];
    return r ? [{ rank: i + 1, filename: r.filename, score: h.score, labels: [...r.labels], patient: r.patient ?? "", path }] : [];
  });
}

// A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"): such text cells get
// a leading apostrophe, which spreadsheets show as text. Numbers are written as numbers (a negative score is no
// formula).
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: formula guard on text, then quoted when it holds a comma, a quote, CR or LF (quotes doubled). */
export function csvCell(v: string | number): string {
  let s = typeof v === "number" ? String(v) : v;
  if (typeof v === "string" && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A header line, then one line per row; CRLF line ends (RFC 4180). */
export function toCsv(rows: readonly ExportRow[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const r of rows) {
    lines.push([r.rank, r.filename, r.score, r.labels.join(LABEL_SEPARATOR), r.patient, r.path].map(csvCell).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** The rows as JSON, with what was asked (`query`: the page's URL state) and the research-use note. */
export function toJson(rows: readonly ExportRow[], query: string): string {
  const note = "For research and education, not a diagnosis. Scores are cosine similarities, not probabilities.";
  return JSON.stringify({ query, note, results: rows }, null, 2) + "\n";
}
