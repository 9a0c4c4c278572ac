// Showing bundle data (file names, labels, reports) safely. React already keeps it text, never markup; these cover
// what text can still do: break a URL, or reorder what is shown around it.

/**
 * The URL of a bundle-relative path such as metadata's `thumbnail` ("images/<stem>.webp"), under the site's data/.
 * Each segment is percent-encoded: in a file name '#' would start a fragment and '?' a query (a 404), and '%'
 * would be read as an escape.
 */
export function dataUrl(base: string, path: string): string {
  return new URL(path.split("/").map(encodeURIComponent).join("/"), new URL("data/", base)).href;
}

// LRM, RLM, ALM, the embeddings/overrides LRE..RLO and the isolates LRI..PDI
const BIDI_CONTROLS = /[\u200E\u200F\u061C\u202A-\u202E\u2066-\u2069]/g;

/** `s` with bidi control characters shown as visible `\uXXXX`: a name like "x\u202Egnp.exe" cannot pose as "xexe.png". */
export function visibleText(s: string): string {
  return s.replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);
}
