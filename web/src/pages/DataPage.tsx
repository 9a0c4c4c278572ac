import { useEffect, useState } from "react";
import { bundleFile } from "../lib/contracts/bundle";
import { fetchVerified } from "../lib/storage/cache";
import { dataUrl } from "../lib/site/display";
import type { SearchClient } from "../lib/protocol/searchClient";
import { BASE, type SiteData } from "../lib/site/site";
import type { HardCases, Metrics } from "../lib/contracts/metrics";
import { parseHardCases, parseMetrics } from "../lib/contracts/metricsParse";
import { HardCasesPage } from "./HardCasesPage";
import { MetricsPage } from "./MetricsPage";

/** Loads metrics.json / hard_cases.json (verified against index_info.json) and shows the matching page. */
export function DataPage({ kind, site, client }: { kind: "metrics" | "hard-cases"; site: SiteData; client: SearchClient }) {
  const [doc, setDoc] = useState<{ metrics?: Metrics; hard?: HardCases } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const name = kind === "metrics" ? "metrics.json" : "hard_cases.json";
    const meta = site.info.files[name];
    if (!meta) {
      setError(`${name}: this bundle has not been evaluated (run medmir evaluate)`);
      return;
    }
    fetchVerified(bundleFile(BASE, site.info, name))
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
    return (
      <HardCasesPage
        hard={doc.hard}
        // version 2 keeps thumbnails in packs: the worker finds the file's row and reads its bytes
        thumbnailUrl={(filename, thumb) => (site.info.format_version === 2 ? () => client.thumbnailUrl(filename, null) : dataUrl(BASE, thumb))}
      />
    );
  return null;
}
