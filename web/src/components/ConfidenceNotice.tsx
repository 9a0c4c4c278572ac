// "No confident match": shown above results whose best score is below this collection's `related` band for the query
// kind (lib/contracts/bands.ts). Renders nothing otherwise, or without bands.
import type { KindBands } from "../lib/contracts/bands";
import { bestScore, noConfidentMatch, noConfidentMatchText, noticeTitle } from "../lib/results/confidence";

export function ConfidenceNotice({ hits, bands }: { hits: readonly { score: number }[]; bands?: KindBands | undefined }) {
  if (!bands || !noConfidentMatch(hits, bands)) return null;
  const best = bestScore(hits);
  return (
    <p
      role="status"
      data-testid="low-confidence"
      data-kind={bands.kind}
      data-best={best}
      data-related={bands.related}
      title={noticeTitle(bands)}
      className="mb-2 rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900"
    >
      {noConfidentMatchText(best, bands)}
    </p>
  );
}
