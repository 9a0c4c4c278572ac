// The search requests: words, an image, a collection row, a composed or refined query, Find similar, thumbnails.
// Each waits for start-up; a query superseded by a newer one (WorkerState.latest) is answered "cancelled".
import type { Coverage, Filters, QuerySpec, Reply, SearchPath, Timing } from "../lib/protocol/messages";
import { hasFilters, neighborsAnswer } from "./collection/collection";
import { embedPixels, embedText } from "./model/encoder";
import { centerCrop, preprocess, resizeBicubic, rgbaToRgb, shorterSideSize } from "./model/preprocess";
import { composeQuery } from "./rank/compose";
import { matchFallback } from "./rank/queryMatch";
import type { Hit } from "./rank/ranking";
import { post } from "./reply";
import type { Loaded, WorkerState } from "./state";
import { visionSession } from "./startup";

const TEXT_VECTORS_KEPT = 32;

export function rank(s: Loaded, q: Float32Array, k: number, f?: Filters): Hit[] {
  return s.collection.rank(q, k, f);
}

/** Results with the rows the page shows; `coverage` when the search ranked a partial collection. */
function answer(s: Loaded, r: Omit<Extract<Reply, { type: "results" }>, "type" | "rows" | "coverage">, ranked: boolean): void {
  const coverage: Coverage | undefined =
    ranked && s.collection.loaded() < s.collection.count ? { searched: s.collection.loaded(), of: s.collection.count } : undefined;
  post({ type: "results", ...r, rows: s.collection.rows(r.hits.map((h) => h.id)), coverage });
}

export async function search(w: WorkerState, id: number, query: string, k: number, f?: Filters): Promise<void> {
  const s = await w.ready!;
  const t0 = performance.now();
  const plain = !hasFilters(f);
  const match = plain && k <= 10 ? matchFallback(query, s.collection.fallback) : null;
  if (match) {
    const e = match.entry;
    const hits = e.ids.slice(0, k).map((row, i) => ({ id: row, score: e.scores[i]! }));
    const totalMs = performance.now() - t0;
    answer(s, { id, path: match.kind, matched: e.query, hits, timing: { rankMs: 0, totalMs } }, false);
    return;
  }
  const ids = s.tokenizer.encode(query);
  const t1 = performance.now();
  let started = t1;
  const warm = w.textWarm;
  const q = await w.queue.run(async () => {
    if (id !== w.latest) return null; // superseded while it waited: never run
    started = performance.now();
    return embedText(s.text, ids);
  });
  const t2 = performance.now();
  if (!q || id !== w.latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const timing: Timing = { tokenizeMs: t1 - t0, embedMs: t2 - t1, waitMs: started - t1, rankMs: t3 - t2, totalMs: t3 - t0 };
  answer(s, { id, path: "live", hits, timing, tokens: ids.length, warm, query: Array.from(q) }, true);
}

/** The model's input for an RGBA image: the Python index's preprocessing (model/preprocess.ts). */
export function pixelsFor(s: Loaded, rgba: ArrayBuffer, width: number, height: number): Float32Array {
  const size = s.manifest.preprocess.image_size;
  const rgb = rgbaToRgb(new Uint8Array(rgba), width, height);
  const [w, h] = shorterSideSize(width, height, size);
  return preprocess(centerCrop(resizeBicubic(rgb, w, h), size), s.manifest.preprocess);
}

export async function searchImage(w: WorkerState, id: number, rgba: ArrayBuffer, width: number, height: number, k: number, f?: Filters) {
  w.visionPending += 1;
  try {
    await imageQuery(w, id, rgba, width, height, k, f);
  } finally {
    w.visionPending -= 1;
  }
}

async function imageQuery(w: WorkerState, id: number, rgba: ArrayBuffer, width: number, height: number, k: number, f?: Filters) {
  const s = await w.ready!;
  const tl = performance.now();
  const session = await visionSession(w, s);
  const t0 = performance.now();
  const pixels = pixelsFor(s, rgba, width, height);
  const t1 = performance.now();
  let started = t1;
  const warm = w.visionRuns > 0;
  const q = await w.queue.run(async () => {
    if (id !== w.latest) return null;
    started = performance.now();
    const out = await embedPixels(session, pixels, s.manifest.preprocess.image_size);
    w.visionRuns += 1;
    return out;
  });
  const t2 = performance.now();
  if (!q || id !== w.latest) return post({ type: "cancelled", id });
  w.lastImage = q;
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const path: SearchPath = "image";
  const timing = { loadMs: t0 - tl, preprocessMs: t1 - t0, embedMs: t2 - t1, waitMs: started - t1, rankMs: t3 - t2, totalMs: t3 - t0 };
  answer(s, { id, path, hits, timing, warm, query: Array.from(q) }, true);
}

export async function searchRow(w: WorkerState, id: number, row: number, k: number, f?: Filters): Promise<void> {
  const s = await w.ready!;
  const t0 = performance.now();
  const q = await s.collection.vector(row);
  if (id !== w.latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k, f);
  const ms = performance.now() - t0;
  answer(s, { id, path: "row", hits, timing: { rankMs: ms, totalMs: ms } }, true);
}

/** A text's embedding for a composed query (kept for later ones); null when a newer query superseded this one. */
async function textVector(w: WorkerState, s: Loaded, id: number, text: string): Promise<Float32Array | null> {
  const kept = w.textVectors.get(text);
  if (kept) return kept;
  const ids = s.tokenizer.encode(text);
  const v = await w.queue.run(async () => (id !== w.latest ? null : embedText(s.text, ids)));
  if (v) {
    w.textVectors.set(text, v);
    if (w.textVectors.size > TEXT_VECTORS_KEPT) w.textVectors.delete(w.textVectors.keys().next().value!);
  }
  return v;
}

/** A composed or refined query (rank/compose.ts): always live, never the precomputed results. */
export async function compose(w: WorkerState, id: number, spec: QuerySpec, k: number, f?: Filters): Promise<void> {
  const s = await w.ready!;
  const t0 = performance.now();
  const b = spec.base;
  let base: Float32Array | null;
  if (b.kind === "text") base = await textVector(w, s, id, b.text);
  else if (b.kind === "row") base = await s.collection.vector(b.row);
  else if (w.lastImage) base = w.lastImage;
  else throw new Error("No image was searched with on this page: upload it again (your images stay on this device, so a link cannot carry them).");
  const minus: Float32Array[] = [];
  for (const t of b.kind === "text" ? spec.minus : []) {
    const v = base && (await textVector(w, s, id, t));
    if (v) minus.push(v);
  }
  const plus = spec.plus.trim() && b.kind !== "text" && base ? await textVector(w, s, id, spec.plus.trim()) : null;
  const t1 = performance.now();
  if (!base || id !== w.latest || (spec.plus.trim() && b.kind !== "text" && !plus)) return post({ type: "cancelled", id });
  const pos = await Promise.all(spec.pos.map((r) => s.collection.vector(r)));
  const neg = await Promise.all(spec.neg.map((r) => s.collection.vector(r)));
  if (id !== w.latest) return post({ type: "cancelled", id });
  const q = composeQuery({ base, minus, plus, pos, neg });
  const t2 = performance.now();
  const hits = rank(s, q, k, f);
  const t3 = performance.now();
  const marks = [...spec.pos, ...spec.neg];
  const marked = s.collection.rows(marks).map((r, i) => ({ id: marks[i]!, filename: r.filename }));
  const path: SearchPath = marks.length ? "refined" : minus.length || plus ? "composed" : b.kind === "image" ? "image" : "row";
  const timing: Timing = { embedMs: t1 - t0, rankMs: t3 - t2, totalMs: t3 - t0 };
  answer(s, { id, path, hits, timing, query: Array.from(q), marked }, true);
}

/** Find Similar: the neighbours the bundle precomputed (exact over the whole collection, even while loading), unless
 * a filter is set or the patient rule would leave one of them out: then the row's embedding ranked live with the
 * filters, the row itself left out (as the neighbours leave it out). */
export async function similar(w: WorkerState, id: number, row: number, k: number, f?: Filters): Promise<void> {
  const s = await w.ready!;
  const t0 = performance.now();
  const near = await s.collection.neighbors(row);
  if (id !== w.latest) return post({ type: "cancelled", id });
  if (neighborsAnswer(f, near, row, (a, b) => s.collection.samePatient(a, b))) {
    const ms = performance.now() - t0;
    return answer(s, { id, path: "neighbors", hits: near, timing: { rankMs: 0, totalMs: ms } }, false);
  }
  const q = await s.collection.vector(row);
  if (id !== w.latest) return post({ type: "cancelled", id });
  const hits = rank(s, q, k + 1, f).filter((h) => h.id !== row).slice(0, k);
  const ms = performance.now() - t0;
  answer(s, { id, path: "row", hits, timing: { rankMs: ms, totalMs: ms } }, true);
}

export async function thumbs(w: WorkerState, id: number, keys: (number | string)[]): Promise<void> {
  const s = await w.ready!;
  const rows = keys.map((k) => (typeof k === "number" ? k : (s.collection.rowOf(k) ?? -1)));
  const known = rows.filter((r) => r >= 0 && r < s.collection.count);
  const bytes = await s.collection.thumbnails(known);
  const byRow = new Map(known.map((r, i) => [r, bytes[i] ?? null]));
  // copies: a part of a whole pack the reader keeps must not be transferred away
  const images = rows.map((r) => byRow.get(r)?.slice() ?? null);
  const transfer = images.flatMap((b) => (b ? [b.buffer as ArrayBuffer] : []));
  post({ type: "thumbs", id, images }, transfer);
}
