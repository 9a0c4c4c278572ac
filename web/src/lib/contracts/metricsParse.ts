// Runtime validators for the evaluation files of a bundle (metrics.ts has their types). The files come from a static
// host and may be stale, hand-edited or truncated: parseMetrics / parseHardCases check every field the pages read and
// throw an Error naming the file and the field, so the site can show that message instead of crashing. Values are
// returned as they are in the file (validated, not copied or rounded).
import {
  TIER_NAMES,
  VERDICTS,
  type Cbir,
  type ConfusionPair,
  type Figure,
  type HardCases,
  type ImageToImageFigure,
  type Metrics,
} from "./metrics";

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
  checkQueries(r, o);
  checkTiers(r, o, ks);
  checkPerLabel(r, o);
  checkImageToImage(r, o);
  checkZeroShot(r, o);
  checkConfusion(r, o);
  checkHardSummary(r, o);
  checkPerQuery(r, o);
  return o as unknown as Metrics;
}

/** queries: the count, the labels and where the query texts came from */
function checkQueries(r: Reader, o: Obj): void {
  const q = r.obj(r.get(o, "queries", ""), "queries");
  r.num(r.get(q, "count", "queries"), "queries.count");
  r.strings(r.get(q, "labels", "queries"), "queries.labels");
  r.str(r.get(q, "source", "queries"), "queries.source");
  r.strings(r.get(q, "labels_from_templates", "queries"), "queries.labels_from_templates");
  r.strings(r.get(q, "labels_without_images", "queries"), "queries.labels_without_images");
  r.record(r.get(q, "semantic_groups", "queries"), "queries.semantic_groups", (x, p) => r.strings(x, p));
}

/** tiers: each relevance tier's figures, with Hit@K for every K the file lists */
function checkTiers(r: Reader, o: Obj, ks: number[]): void {
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
}

/** per_label: the strict tier per query label */
function checkPerLabel(r: Reader, o: Obj): void {
  r.arr(r.get(o, "per_label", ""), "per_label", (x, p) => {
    const e = r.obj(x, p);
    r.str(r.get(e, "label", p), `${p}.label`);
    for (const k of ["images", "queries", "hit@10", "ap", "chance_ap"]) r.num(r.get(e, k, p), `${p}.${k}`);
    return e;
  });
}

/** image_to_image, with the CBIR protocol when the file has it */
function checkImageToImage(r: Reader, o: Obj): void {
  const i2i = r.obj(r.get(o, "image_to_image", ""), "image_to_image");
  r.str(r.get(i2i, "definition", "image_to_image"), "image_to_image.definition");
  r.num(r.get(i2i, "queries", "image_to_image"), "image_to_image.queries");
  r.bool(r.get(i2i, "sampled", "image_to_image"), "image_to_image.sampled");
  r.num(r.get(i2i, "mean_candidates", "image_to_image"), "image_to_image.mean_candidates");
  r.record(r.get(i2i, "metrics", "image_to_image"), "image_to_image.metrics", (x, p) => checkI2IFigure(r, x, p));
  if (i2i["cbir"] !== undefined) checkCbir(r, i2i["cbir"], "image_to_image.cbir");
}

/** zero_shot_auc: per label and the mean */
function checkZeroShot(r: Reader, o: Obj): void {
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
}

/** confusion: the label confusion matrix of the top K */
function checkConfusion(r: Reader, o: Obj): void {
  const conf = r.obj(r.get(o, "confusion", ""), "confusion");
  r.strings(r.get(conf, "rows", "confusion"), "confusion.rows");
  r.strings(r.get(conf, "columns", "confusion"), "confusion.columns");
  r.num(r.get(conf, "k", "confusion"), "confusion.k");
  r.arr(r.get(conf, "share", "confusion"), "confusion.share", (row, p) => r.arr(row, p, (x, pp) => r.num(x, pp)));
}

/** hard_cases_summary: the counts the Hard cases page details */
function checkHardSummary(r: Reader, o: Obj): void {
  const hs = r.obj(r.get(o, "hard_cases_summary", ""), "hard_cases_summary");
  for (const k of ["count", "queries", "semantic_matches", "true_failures"]) {
    r.num(r.get(hs, k, "hard_cases_summary"), `hard_cases_summary.${k}`);
  }
}

/** per_query: every query's own figures */
function checkPerQuery(r: Reader, o: Obj): void {
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
