// What a result's score means to the reader: the band it reaches and the "no confident match" notice, read off the
// bundle's score bands (lib/contracts/bands.ts) for the kind of query that made the scores. Pure functions only.
import { BANDS, type Band, type BandKind, type Bands, type KindBands, type ScoreBands } from "../contracts/bands";
import type { SearchPath } from "../protocol/messages";

/** How each search path's scores were made: a text query (live or precomputed) or an image (upload, row, neighbours).
 * null: composed and refined queries mix text and image vectors (worker/rank/compose.ts), so their scores sit on
 * neither kind's scale and get no band. */
const PATH_KIND: Record<SearchPath, BandKind | null> = {
  exact: "text",
  fuzzy: "text",
  live: "text",
  image: "image",
  row: "image",
  neighbors: "image",
  composed: null,
  refined: null,
};

export function queryKind(path: SearchPath): BandKind | null {
  return PATH_KIND[path];
}

// one KindBands object per (score_bands, kind): the same props on every render, so a memoised list stays put
const kindCache = new WeakMap<ScoreBands, Partial<Record<BandKind, KindBands>>>();

/** The bands that apply to a result of `path` (undefined: the bundle has none for that kind). */
export function bandsFor(scoreBands: ScoreBands | undefined | null, path: SearchPath): KindBands | undefined {
  if (!scoreBands) return undefined;
  const kind = queryKind(path);
  const b = kind && scoreBands[kind];
  if (!kind || !b) return undefined;
  let cached = kindCache.get(scoreBands);
  if (!cached) kindCache.set(scoreBands, (cached = {}));
  return (cached[kind] ??= { kind, close: b.close, similar: b.similar, related: b.related });
}

/** The band a score reaches ("" below related, or without bands). */
export function bandOf(score: number, bands: Bands | null | undefined): Band | "" {
  if (!bands) return "";
  return BANDS.find((b) => score >= bands[b]) ?? "";
}

/** The best score of a result list (-Infinity when empty). */
export function bestScore(hits: readonly { score: number }[]): number {
  return hits.reduce((m, h) => Math.max(m, h.score), -Infinity);
}

/** True when there are results and even the best is below the `related` band. */
export function noConfidentMatch(hits: readonly { score: number }[], bands: Bands | null | undefined): boolean {
  return Boolean(bands) && hits.length > 0 && bestScore(hits) < bands!.related;
}

export const BAND_LABEL: Record<Band, string> = { close: "close match", similar: "similar", related: "related" };

const KIND_WORDS: Record<BandKind, string> = { image: "image queries", text: "text queries" };

const MEANING: Record<BandKind, Record<Band, string>> = {
  image: {
    close: "at least as similar as the typical image of this collection is to its closest other image",
    similar: "at least as similar as the typical image of this collection is to the last of its nearest neighbours",
    related: "at least as similar as 9 in 10 images of this collection are to the last of their nearest neighbours",
  },
  text: {
    close: "at least the score a typical common clinical query reaches with its best image in this collection",
    similar: "at least the score a typical common clinical query reaches with its 10th best image in this collection",
    related: "at least the score 9 in 10 common clinical queries reach with their 10th best image in this collection",
  },
};

const SOURCE =
  "The bands come from this collection's own score distribution, computed when it was indexed; they rank results, they are not a probability and not a diagnosis.";

/** The chip's tooltip: what the band means, with its threshold. */
export function bandTitle(band: Band, bands: KindBands): string {
  return `${BAND_LABEL[band][0]!.toUpperCase()}${BAND_LABEL[band].slice(1)} (${KIND_WORDS[bands.kind]}): similarity ≥ ${bands[band].toFixed(3)}, ${MEANING[bands.kind][band]}. ${SOURCE}`;
}

/** The notice shown above results whose best score is below `related`. */
export function noConfidentMatchText(best: number, bands: KindBands): string {
  return `No confident match: the best result's similarity (${best.toFixed(3)}) is below what this collection calls related for ${KIND_WORDS[bands.kind]} (${bands.related.toFixed(3)}). These are the nearest images, but none is a confident match.`;
}

export function noticeTitle(bands: KindBands): string {
  return `Related means ${MEANING[bands.kind].related}. ${SOURCE}`;
}
