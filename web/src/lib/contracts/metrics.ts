// The types of a bundle's evaluation files (docs/FORMAT.md, "Evaluation files"; docs/EVALUATION.md): metrics.json
// and hard_cases.json. metricsParse.ts checks a file against them.

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
