import { useEffect, useState } from "react";
import { BASE, type SiteData } from "../App";
import { fetchVerified } from "../lib/cache";
import { dataUrl } from "../lib/display";
import { parseHardCases, parseMetrics, type HardCases, type Metrics } from "../lib/metricsTypes";
import { HardCasesPage } from "./HardCasesPage";
import { MetricsPage } from "./MetricsPage";

/** Loads metrics.json / hard_cases.json (verified against index_info.json) and shows the matching page. */
export function DataPage({ kind, site }: { kind: "metrics" | "hard-cases"; site: SiteData }) {
  const [doc, setDoc] = useState<{ metrics?: Metrics; hard?: HardCases } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const name = kind === "metrics" ? "metrics.json" : "hard_cases.json";
    const meta = site.info.files[name];
    if (!meta) {
      setError(`${name}: this bundle has not been evaluated (run medmir evaluate)`);
      return;
    }
    fetchVerified({ name, url: new URL(`data/${name}`, BASE).href, bytes: meta.bytes, sha256: meta.sha256 })
      .then((raw) => {
        const json: unknown = JSON.parse(new TextDecoder().decode(raw));
        setDoc(kind === "metrics" ? { metrics: parseMetrics(json) } : { hard: parseHardCases(json) });
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [kind, site]);

  if (error)
    return (
      <p role="alert" className="rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900">
        {error}
      </p>
    );
  if (!doc) return <p role="status">Loading…</p>;
  if (doc.metrics) return <MetricsPage metrics={doc.metrics} />;
  if (doc.hard)
    return <HardCasesPage hard={doc.hard} thumbnailUrl={(_f, thumb) => dataUrl(BASE, thumb)} />;
  return null;
}
