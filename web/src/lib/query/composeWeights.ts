// The weights of composed queries (worker/rank/compose.ts does the arithmetic): here, below both the worker and the
// page, because the page states them in its help text and the worker computes with them.

/** Rocchio's classic weights (Rocchio 1971; the values of Manning, Raghavan & Schütze, ch. 9):
 * q' = normalize(alpha q + beta mean(relevant rows) - gamma mean(non-relevant rows)). */
export const ROCCHIO = { alpha: 1, beta: 0.75, gamma: 0.15 } as const;

/** "effusion -cardiomegaly": normalize(e("effusion") - EXCLUDE_WEIGHT x e("cardiomegaly")), each excluded term
 * subtracted with this weight. Half: the excluded finding pushes away without outweighing what was asked for. */
export const EXCLUDE_WEIGHT = 0.5;

/** An image plus words: normalize(e(image) + ADD_WORDS_WEIGHT x e(words)). Equal weights: image-to-text cosines
 * spread over a narrower range than image-to-image ones, so the words still only nudge the image's neighbours. */
export const ADD_WORDS_WEIGHT = 1;
