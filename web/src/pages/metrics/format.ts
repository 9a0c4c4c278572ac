// How the Metrics page writes figures: each metric's name and gloss, numbers to three decimals, where a value sits
// against chance, and the tables' cell style.
import type { Figure, TierName } from "../../lib/contracts/metrics";

export const TIER_TITLES: Record<TierName, string> = {
  strict: "Strict",
  adjusted: "Adjusted",
  semantic: "Semantic",
};

const METRIC_RE = /^(hit|precision|recall|map|ndcg)@(\d+)$/;

/** Display name of a metric key ("hit@10" -> "Hit@10"). Hit@K is never called recall. */
export function metricName(key: string): string {
  const m = METRIC_RE.exec(key);
  if (m) {
    const k = m[2] ?? "";
    switch (m[1]) {
      case "hit":
        return `Hit@${k}`;
      case "precision":
        return `P@${k}`;
      case "recall":
        return `Recall@${k}`;
      case "map":
        return `mAP@${k}`;
      case "ndcg":
        return `nDCG@${k}`;
    }
  }
  if (key === "ap") return "mean AP";
  if (key === "mrr") return "MRR";
  if (key === "r_precision") return "R-precision";
  return key;
}

/** One-line plain-language gloss shown under the metric name. */
export function metricGloss(key: string): string {
  const m = METRIC_RE.exec(key);
  if (m) {
    const k = m[2] ?? "";
    switch (m[1]) {
      case "hit":
        return `at least one relevant image in the top ${k}`;
      case "precision":
        return `share of the top ${k} that is relevant`;
      case "recall":
        return `share of all relevant images found in the top ${k}`;
      case "map":
        return `average precision cut at rank ${k}`;
      case "ndcg":
        return `gain of the top ${k}, relevant images near the top counting more (1 = perfect)`;
    }
  }
  if (key === "ap") return "average precision over the full ranking";
  if (key === "mrr") return "1 / rank of the first relevant image";
  if (key === "r_precision") return "share of the top R that is relevant (R = the query's relevant images)";
  return "";
}

export function fmt(v: number): string {
  return v.toFixed(3);
}

export function fmtRange(r: readonly [number, number]): string {
  return `${fmt(r[0])} – ${fmt(r[1])}`;
}

/** Where the value sits relative to the spread of random rankings (when the file has that spread). */
export function versusChance(f: Figure): { text: string; className: string } | null {
  const spread = f.chance_interval95;
  if (!spread) return null;
  if (f.value > spread[1]) return { text: "above the random range", className: "text-emerald-800" };
  if (f.value < spread[0]) return { text: "below the random range", className: "text-red-800" };
  return { text: "within the random range", className: "text-slate-700" };
}

export const td = "border-b border-slate-200 px-3 py-1.5 tabular-nums text-slate-900";
export const tableClass = "w-full border-collapse text-sm";
