// Score bands (docs/FORMAT.md, index_info.json `score_bands`): what a similarity score means in this collection.
// A cosine has no fixed meaning (text-to-image scores sit far below image-to-image ones, and both shift with the model
// and the collection), so `medmir index` reads the bands off the bundle's own scores, per query kind:
//   close:   >= the median best score (each image's closest other image; each common clinical query's best image)
//   similar: >= the median k-th score (the last of each image's nearest neighbours; each query's 10th image)
//   related: >= the 10th percentile of the k-th scores
// Below related: no band; when even the best result is below it, "no confident match" (lib/results/confidence.ts).
// The contract only: the types and their parsing (medmir.bundle.bands is the Python side, with the same rule).

export type BandKind = "image" | "text";
export type Band = "close" | "similar" | "related";

export interface Bands {
  close: number;
  similar: number;
  related: number;
}

/** index_info.json `score_bands`; a kind is null when the bundle holds no score of it (one image: no neighbours). */
export interface ScoreBands {
  image: Bands | null;
  text: Bands | null;
  method: string;
}

/** One kind's bands, as a result list reads them. */
export interface KindBands extends Bands {
  kind: BandKind;
}

export const BANDS: readonly Band[] = ["close", "similar", "related"];

function isBands(b: unknown): b is Bands {
  if (!b || typeof b !== "object") return false;
  const v = BANDS.map((k) => (b as Record<string, unknown>)[k]);
  if (!v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= -1 - 1e-6 && x <= 1 + 1e-6)) return false;
  const [close, similar, related] = v as number[];
  return close! >= similar! && similar! >= related!;
}

/** index_info.json `score_bands`: undefined when absent (bundles written before it), an error when malformed. */
export function parseScoreBands(x: unknown): ScoreBands | undefined {
  if (x === undefined) return undefined;
  const o = x as Partial<ScoreBands> | null;
  if (!o || typeof o !== "object" || typeof o.method !== "string") {
    throw new Error("index_info.json: score_bands must be an object with image, text and method");
  }
  for (const kind of ["image", "text"] as const) {
    const b = o[kind];
    if (b !== null && !isBands(b)) {
      throw new Error(`index_info.json: score_bands.${kind} must be null or numbers in [-1, 1] with close >= similar >= related`);
    }
  }
  return o as ScoreBands;
}
