// Types and runtime validators for the evaluation files of a bundle (docs/FORMAT.md, "Evaluation files";
// docs/EVALUATION.md): metrics.json and hard_cases.json, plus the metadata.json entry type.
//
// The files come from a static host and may be stale, hand-edited or truncated: parseMetrics / parseHardCases check
// every field the pages read and throw an Error naming the file and the field, so the site can show that message
// instead of crashing. Values are returned as they are in the file (validated, not copied or rounded).

// ---------------------------------------------------------------------------------------------------------------
// metrics.json

export const TIER_NAMES = ["strict", "adjusted", "semantic"] as const;
export type TierName = (typeof TIER_NAMES)[number];

/** One aggregate figure of a tier: mean over the tier's queries, bootstrap CI, exact chance, chance spread. */
export interface Figure {
  value: number;
  ci95: [number, number];
  chance: number;
  /** Spread of the mean over random rankings; absent when the evaluation ran without shuffles. */
  chance_interval95?: [number, number];
}

export interface Tier {
  definition: string;
  queries: number;
  /** Query texts removed from this tier (labels without images); listed, never dropped silently. */
  excluded_queries: string[];
  /** Keys like "hit@10", "precision@5", "recall@20", "map@10", "ap", "mrr"; newer files add "ndcg@K" and
   * "r_precision". */
  metrics: Record<string, Figure>;
}

export interface ModelInfo {
  name: string;
  title: string;
  source: string;
  /** The resolved hub commit, or null for a local checkpoint folder. */
  revision: string | null;
  manifest_sha256?: string;
  random_weights?: boolean;
  [key: string]: unknown;
}

export interface Evaluated {
  what: string;
  text_model: string;
  padding: string;
  image_embeddings: { precision?: string; source?: string };
  model: ModelInfo;
  random_weights: boolean;
  warning: string | null;
  bundle_images: number;
  created: string;
  medmir: string;
}

export interface QueriesInfo {
  count: number;
  /** "built-in", or the file name of the user's query set (medmir evaluate --queries) */
  source: string;
  labels: string[];
  /** labels queried from the documented templates (no curated phrasings) */
  labels_from_templates: string[];
  labels_without_images: string[];
  semantic_groups: Record<string, string[]>;
}

/** Strict tier, per query label. */
export interface PerLabel {
  label: string;
  images: number;
  queries: number;
  "hit@10": number;
  ap: number;
  chance_ap: number;
}

export interface ImageToImageFigure {
  value: number;
  ci95: [number, number];
  chance: number;
}

/** A published figure set, shown for scale beside the CBIR protocol (never computed by medmir). */
export interface CbirPublished {
  source: string;
  model: string;
  collection: string;
  /** Keys like "precision@10". */
  values: Record<string, number>;
  /** false: a different collection; the page says so. */
  comparable: boolean;
  caveat: string;
}

/** One label of the CBIR protocol: its query images (those carrying it) and P@k over them. */
export interface CbirLabel {
  label: string;
  /** Images of the bundle carrying the label. */
  images: number;
  /** Query images carrying the label (all of `images` unless the queries were sampled). */
  queries: number;
  /** Keys "precision@1", "precision@3", "precision@5", "precision@10". */
  metrics: Record<string, ImageToImageFigure>;
}

/** The label-match CBIR protocol of Denner et al. (image -> image, macro over labels); absent in older files. */
export interface Cbir {
  protocol: string;
  definition: string;
  ks: number[];
  /** Labels with at least one query image (the macro average's labels). */
  labels: number;
  labels_without_queries: string[];
  query_label_pairs: number;
  /** Macro average over labels; empty when no label has a query. */
  macro: Record<string, ImageToImageFigure>;
  per_label: CbirLabel[];
  published: CbirPublished;
}

export interface ImageToImage {
  definition: string;
  queries: number;
  sampled: boolean;
  mean_candidates: number;
  /** Keys "precision@1", "precision@5", "precision@10", "map@10"; newer files add "ndcg@10", "r_precision". */
  metrics: Record<string, ImageToImageFigure>;
  /** Absent in files written before the CBIR protocol was added. */
  cbir?: Cbir;
}

export interface ZeroShotLabel {
  label: string;
  /** null when undefined (the label has no positive or no negative image); `note` says why. */
  auc: number | null;
  positives: number;
  negatives: number;
  prompts: string[];
  note?: string;
}

export interface ZeroShotAuc {
  method: string;
  templates: string[];
  labels: ZeroShotLabel[];
  mean_auc: number | null;
  chance: number;
}

export interface Confusion {
  rows: string[];
  columns: string[];
  k: number;
  share: number[][];
}

export interface HardCasesSummary {
  count: number;
  queries: number;
  semantic_matches: number;
  true_failures: number;
}

export interface PerQueryRecord {
  query: string;
  label: string;
  tier: string;
  relevant_images: number;
  /** 1 = top; 0 when the query has no relevant image. */
  first_relevant_rank: number;
  ap: number;
  reciprocal_rank: number;
  hits: Record<string, number>;
  relevant_in_top: Record<string, number>;
  /** "ndcg@K" for each K; absent in older files. */
  ndcg?: Record<string, number>;
  /** Absent in older files. */
  r_precision?: number;
}

export interface Metrics {
  format: "medmir-metrics";
  format_version: 1;
  evaluated: Evaluated;
  ks: number[];
  metric_docs: Record<string, string>;
  ranking_rule: string;
  chance: string;
  ci: string;
  queries: QueriesInfo;
  tiers: Record<TierName, Tier>;
  per_label: PerLabel[];
  image_to_image: ImageToImage;
  zero_shot_auc: ZeroShotAuc;
  confusion: Confusion;
  hard_cases_summary: HardCasesSummary;
  per_query: PerQueryRecord[];
}

// ---------------------------------------------------------------------------------------------------------------
// hard_cases.json

export type Verdict = "semantic match" | "true failure";
export const VERDICTS: readonly Verdict[] = ["semantic match", "true failure"];

export interface RetrievedImage {
  rank: number;
  id: number;
  filename: string;
  labels: string[];
}

export interface HardCase {
  query: string;
  label: string;
  verdict: Verdict;
  /** Labels of the top-1 image that share a semantic group with the query's label. */
  shared_group_labels: string[];
  retrieved: RetrievedImage[];
}

export interface ConfusionPair {
  query_label: string;
  retrieved_label: string;
  count: number;
}

export interface HardCases {
  rule: string;
  count: number;
  queries: number;
  semantic_matches: number;
  true_failures: number;
  cases: HardCase[];
  confusion_pairs: ConfusionPair[];
  recurring_confusion_pairs: ConfusionPair[];
}

// ---------------------------------------------------------------------------------------------------------------
// metadata.json (`{"format": "medmir-bundle", "count": N, "images": [MetadataEntry, ...]}`)

export interface MetadataEntry {
  id: number;
  /** The source file name: plain text, never markup. */
  filename: string;
  /** "images/<stem>.webp", relative to the bundle. */
  thumbnail: string;
  labels: string[];
  primary_label: string | null;
  report: string;
  patient_id: string | null;
  age: number | null;
  sex: string | null;
  view: string | null;
  /** Bundles built from DICOM: de-identified tag values by facet name (only the known ones; lib/facets.ts). */
  facets?: Record<string, string>;
}

/** The bundle's thumbnail path for a source file name: `images/<filename without its extension>.webp`. */
export function thumbnailPathFor(filename: string): string {
  const stem = filename.replace(/\.[^./\\]*$/, "");
  return `images/${stem}.webp`;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return `a ${typeof v}`;
}

class Reader {
  constructor(private readonly file: string) {}

  fail(path: string, expected: string, got: unknown): never {
    throw new Error(`${this.file}: field "${path}" must be ${expected} (got ${describe(got)})`);
  }

  obj(v: unknown, path: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      if (path === "") throw new Error(`${this.file}: must be a JSON object (got ${describe(v)})`);
      this.fail(path, "an object", v);
    }
    return v as Obj;
  }

  /** The value of `key`; throws "missing field" when absent. */
  get(o: Obj, key: string, path: string): unknown {
    const p = join(path, key);
    if (!Object.prototype.hasOwnProperty.call(o, key)) {
      throw new Error(`${this.file}: missing field "${p}"`);
    }
    return o[key];
  }

  num(v: unknown, path: string): number {
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, "a number", v);
    return v;
  }

  numOrNull(v: unknown, path: string): number | null {
    return v === null ? null : this.num(v, path);
  }

  str(v: unknown, path: string): string {
    if (typeof v !== "string") this.fail(path, "a string", v);
    return v;
  }

  strOrNull(v: unknown, path: string): string | null {
    return v === null ? null : this.str(v, path);
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== "boolean") this.fail(path, "true or false", v);
    return v;
  }

  arr<T>(v: unknown, path: string, item: (x: unknown, p: string) => T): T[] {
    if (!Array.isArray(v)) this.fail(path, "an array", v);
    return v.map((x, i) => item(x, `${path}[${i}]`));
  }

  strings(v: unknown, path: string): string[] {
    return this.arr(v, path, (x, p) => this.str(x, p));
  }

  pair(v: unknown, path: string): [number, number] {
    if (!Array.isArray(v) || v.length !== 2) this.fail(path, "a [low, high] pair of numbers", v);
    return [this.num(v[0], `${path}[0]`), this.num(v[1], `${path}[1]`)];
  }

  record<T>(v: unknown, path: string, item: (x: unknown, p: string) => T): Record<string, T> {
    const o = this.obj(v, path);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(o)) out[k] = item(x, join(path, k));
    return out;
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function checkFigure(r: Reader, v: unknown, path: string): Figure {
  const o = r.obj(v, path);
  r.num(r.get(o, "value", path), join(path, "value"));
  r.pair(r.get(o, "ci95", path), join(path, "ci95"));
  r.num(r.get(o, "chance", path), join(path, "chance"));
  if (o["chance_interval95"] !== undefined) r.pair(o["chance_interval95"], join(path, "chance_interval95"));
  return o as unknown as Figure;
}

function checkI2IFigure(r: Reader, v: unknown, path: string): ImageToImageFigure {
  const o = r.obj(v, path);
  r.num(r.get(o, "value", path), join(path, "value"));
  r.pair(r.get(o, "ci95", path), join(path, "ci95"));
  r.num(r.get(o, "chance", path), join(path, "chance"));
  return o as unknown as ImageToImageFigure;
}

function checkCbir(r: Reader, v: unknown, path: string): Cbir {
  const o = r.obj(v, path);
  for (const k of ["protocol", "definition"]) r.str(r.get(o, k, path), join(path, k));
  r.arr(r.get(o, "ks", path), join(path, "ks"), (x, p) => r.num(x, p));
  r.num(r.get(o, "labels", path), join(path, "labels"));
  r.strings(r.get(o, "labels_without_queries", path), join(path, "labels_without_queries"));
  r.num(r.get(o, "query_label_pairs", path), join(path, "query_label_pairs"));
  r.record(r.get(o, "macro", path), join(path, "macro"), (x, p) => checkI2IFigure(r, x, p));
  const lp = join(path, "per_label");
  r.arr(r.get(o, "per_label", path), lp, (x, p) => {
    const e = r.obj(x, p);
    r.str(r.get(e, "label", p), `${p}.label`);
    r.num(r.get(e, "images", p), `${p}.images`);
    r.num(r.get(e, "queries", p), `${p}.queries`);
    r.record(r.get(e, "metrics", p), `${p}.metrics`, (y, q) => checkI2IFigure(r, y, q));
    return e;
  });
  const pp = join(path, "published");
  const pub = r.obj(r.get(o, "published", path), pp);
  for (const k of ["source", "model", "collection", "caveat"]) r.str(r.get(pub, k, pp), join(pp, k));
  r.record(r.get(pub, "values", pp), join(pp, "values"), (x, p) => r.num(x, p));
  r.bool(r.get(pub, "comparable", pp), join(pp, "comparable"));
  return o as unknown as Cbir;
}

function checkEvaluated(r: Reader, v: unknown, path: string): void {
  const o = r.obj(v, path);
  for (const k of ["what", "text_model", "padding", "created", "medmir"]) r.str(r.get(o, k, path), join(path, k));
  const emb = r.obj(r.get(o, "image_embeddings", path), join(path, "image_embeddings"));
  for (const k of ["precision", "source"]) {
    if (emb[k] !== undefined) r.str(emb[k], join(join(path, "image_embeddings"), k));
  }
  const mp = join(path, "model");
  const model = r.obj(r.get(o, "model", path), mp);
  for (const k of ["name", "title", "source"]) r.str(r.get(model, k, mp), join(mp, k));
  r.strOrNull(r.get(model, "revision", mp), join(mp, "revision"));
  if (model["manifest_sha256"] !== undefined) r.str(model["manifest_sha256"], join(mp, "manifest_sha256"));
  if (model["random_weights"] !== undefined) r.bool(model["random_weights"], join(mp, "random_weights"));
  r.bool(r.get(o, "random_weights", path), join(path, "random_weights"));
  r.strOrNull(r.get(o, "warning", path), join(path, "warning"));
  r.num(r.get(o, "bundle_images", path), join(path, "bundle_images"));
}

/** Validate a parsed metrics.json; throws an Error naming the first missing or invalid field. */
export function parseMetrics(json: unknown): Metrics {
  const r = new Reader("metrics.json");
  const o = r.obj(json, "");
  const format = r.get(o, "format", "");
  if (format !== "medmir-metrics") r.fail("format", '"medmir-metrics"', format);
  const version = r.get(o, "format_version", "");
  if (version !== 1) {
    throw new Error(`metrics.json: field "format_version" is ${JSON.stringify(version)}; this site reads version 1`);
  }
  checkEvaluated(r, r.get(o, "evaluated", ""), "evaluated");
  const ks = r.arr(r.get(o, "ks", ""), "ks", (x, p) => r.num(x, p));
  r.record(r.get(o, "metric_docs", ""), "metric_docs", (x, p) => r.str(x, p));
  for (const k of ["ranking_rule", "chance", "ci"]) r.str(r.get(o, k, ""), k);

  const q = r.obj(r.get(o, "queries", ""), "queries");
  r.num(r.get(q, "count", "queries"), "queries.count");
  r.strings(r.get(q, "labels", "queries"), "queries.labels");
  r.str(r.get(q, "source", "queries"), "queries.source");
  r.strings(r.get(q, "labels_from_templates", "queries"), "queries.labels_from_templates");
  r.strings(r.get(q, "labels_without_images", "queries"), "queries.labels_without_images");
  r.record(r.get(q, "semantic_groups", "queries"), "queries.semantic_groups", (x, p) => r.strings(x, p));

  const tiers = r.obj(r.get(o, "tiers", ""), "tiers");
  for (const name of TIER_NAMES) {
    const tp = `tiers.${name}`;
    const t = r.obj(r.get(tiers, name, "tiers"), tp);
    r.str(r.get(t, "definition", tp), `${tp}.definition`);
    r.num(r.get(t, "queries", tp), `${tp}.queries`);
    r.strings(r.get(t, "excluded_queries", tp), `${tp}.excluded_queries`);
    const figures = r.record(r.get(t, "metrics", tp), `${tp}.metrics`, (x, p) => checkFigure(r, x, p));
    for (const k of ks) {
      if (!(`hit@${k}` in figures)) {
        throw new Error(`metrics.json: missing field "${tp}.metrics.hit@${k}" (ks lists ${k})`);
      }
    }
  }

  r.arr(r.get(o, "per_label", ""), "per_label", (x, p) => {
    const e = r.obj(x, p);
    r.str(r.get(e, "label", p), `${p}.label`);
    for (const k of ["images", "queries", "hit@10", "ap", "chance_ap"]) r.num(r.get(e, k, p), `${p}.${k}`);
    return e;
  });

  const i2i = r.obj(r.get(o, "image_to_image", ""), "image_to_image");
  r.str(r.get(i2i, "definition", "image_to_image"), "image_to_image.definition");
  r.num(r.get(i2i, "queries", "image_to_image"), "image_to_image.queries");
  r.bool(r.get(i2i, "sampled", "image_to_image"), "image_to_image.sampled");
  r.num(r.get(i2i, "mean_candidates", "image_to_image"), "image_to_image.mean_candidates");
  r.record(r.get(i2i, "metrics", "image_to_image"), "image_to_image.metrics", (x, p) => checkI2IFigure(r, x, p));
  if (i2i["cbir"] !== undefined) checkCbir(r, i2i["cbir"], "image_to_image.cbir");

  const zs = r.obj(r.get(o, "zero_shot_auc", ""), "zero_shot_auc");
  r.str(r.get(zs, "method", "zero_shot_auc"), "zero_shot_auc.method");
  r.strings(r.get(zs, "templates", "zero_shot_auc"), "zero_shot_auc.templates");
  r.arr(r.get(zs, "labels", "zero_shot_auc"), "zero_shot_auc.labels", (x, p) => {
    const e = r.obj(x, p);
    r.str(r.get(e, "label", p), `${p}.label`);
    r.numOrNull(r.get(e, "auc", p), `${p}.auc`);
    r.num(r.get(e, "positives", p), `${p}.positives`);
    r.num(r.get(e, "negatives", p), `${p}.negatives`);
    r.strings(r.get(e, "prompts", p), `${p}.prompts`);
    if (e["note"] !== undefined) r.str(e["note"], `${p}.note`);
    return e;
  });
  r.numOrNull(r.get(zs, "mean_auc", "zero_shot_auc"), "zero_shot_auc.mean_auc");
  r.num(r.get(zs, "chance", "zero_shot_auc"), "zero_shot_auc.chance");

  const conf = r.obj(r.get(o, "confusion", ""), "confusion");
  r.strings(r.get(conf, "rows", "confusion"), "confusion.rows");
  r.strings(r.get(conf, "columns", "confusion"), "confusion.columns");
  r.num(r.get(conf, "k", "confusion"), "confusion.k");
  r.arr(r.get(conf, "share", "confusion"), "confusion.share", (row, p) => r.arr(row, p, (x, pp) => r.num(x, pp)));

  const hs = r.obj(r.get(o, "hard_cases_summary", ""), "hard_cases_summary");
  for (const k of ["count", "queries", "semantic_matches", "true_failures"]) {
    r.num(r.get(hs, k, "hard_cases_summary"), `hard_cases_summary.${k}`);
  }

  r.arr(r.get(o, "per_query", ""), "per_query", (x, p) => {
    const e = r.obj(x, p);
    for (const k of ["query", "label", "tier"]) r.str(r.get(e, k, p), `${p}.${k}`);
    for (const k of ["relevant_images", "first_relevant_rank", "ap", "reciprocal_rank"]) {
      r.num(r.get(e, k, p), `${p}.${k}`);
    }
    r.record(r.get(e, "hits", p), `${p}.hits`, (h, hp) => r.num(h, hp));
    r.record(r.get(e, "relevant_in_top", p), `${p}.relevant_in_top`, (h, hp) => r.num(h, hp));
    if (e["ndcg"] !== undefined) r.record(e["ndcg"], `${p}.ndcg`, (h, hp) => r.num(h, hp));
    if (e["r_precision"] !== undefined) r.num(e["r_precision"], `${p}.r_precision`);
    return e;
  });

  return o as unknown as Metrics;
}

function checkPair(r: Reader, v: unknown, p: string): ConfusionPair {
  const e = r.obj(v, p);
  r.str(r.get(e, "query_label", p), `${p}.query_label`);
  r.str(r.get(e, "retrieved_label", p), `${p}.retrieved_label`);
  r.num(r.get(e, "count", p), `${p}.count`);
  return e as unknown as ConfusionPair;
}

/** Validate a parsed hard_cases.json; throws an Error naming the first missing or invalid field. */
export function parseHardCases(json: unknown): HardCases {
  const r = new Reader("hard_cases.json");
  const o = r.obj(json, "");
  r.str(r.get(o, "rule", ""), "rule");
  for (const k of ["count", "queries", "semantic_matches", "true_failures"]) r.num(r.get(o, k, ""), k);
  r.arr(r.get(o, "cases", ""), "cases", (x, p) => {
    const c = r.obj(x, p);
    r.str(r.get(c, "query", p), `${p}.query`);
    r.str(r.get(c, "label", p), `${p}.label`);
    const verdict = r.get(c, "verdict", p);
    if (!(VERDICTS as readonly unknown[]).includes(verdict)) {
      r.fail(`${p}.verdict`, '"semantic match" or "true failure"', verdict);
    }
    r.strings(r.get(c, "shared_group_labels", p), `${p}.shared_group_labels`);
    r.arr(r.get(c, "retrieved", p), `${p}.retrieved`, (y, q) => {
      const e = r.obj(y, q);
      r.num(r.get(e, "rank", q), `${q}.rank`);
      r.num(r.get(e, "id", q), `${q}.id`);
      r.str(r.get(e, "filename", q), `${q}.filename`);
      r.strings(r.get(e, "labels", q), `${q}.labels`);
      return e;
    });
    return c;
  });
  r.arr(r.get(o, "confusion_pairs", ""), "confusion_pairs", (x, p) => checkPair(r, x, p));
  r.arr(r.get(o, "recurring_confusion_pairs", ""), "recurring_confusion_pairs", (x, p) => checkPair(r, x, p));
  return o as unknown as HardCases;
}
