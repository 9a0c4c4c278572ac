import { useCallback, useEffect, useMemo, useState } from "react";
import { SearchClient } from "./lib/protocol/searchClient";
import { BASE, type SiteData } from "./lib/site/site";
import { LoadingRest, ProgressPanel, type FileProgress } from "./components/ProgressPanel";
import { BenchmarkPage } from "./pages/BenchmarkPage";
import { DataPage } from "./pages/DataPage";
import { SearchPage } from "./pages/SearchPage";
import type { ReadyInfo } from "./lib/protocol/messages";

type Route = "search" | "metrics" | "hard-cases" | "benchmark";

function currentRoute(): { route: Route; params: URLSearchParams } {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [path = "", query = ""] = hash.split("?");
  const route: Route = path === "metrics" || path === "hard-cases" || path === "benchmark" ? path : "search";
  return { route, params: new URLSearchParams(query) };
}

type Loc = ReturnType<typeof currentRoute>;

// the same place keeps its object, so a hashchange after our own navigation renders nothing new
function follow(prev: Loc): Loc {
  const next = currentRoute();
  return next.route === prev.route && next.params.toString() === prev.params.toString() ? prev : next;
}

const NAV: { route: Route; label: string }[] = [
  { route: "search", label: "Search" },
  { route: "metrics", label: "Metrics" },
  { route: "hard-cases", label: "Hard cases" },
  { route: "benchmark", label: "Benchmark" },
];

export function App() {
  const [loc, setLoc] = useState(currentRoute);
  const [site, setSite] = useState<SiteData | null>(null);
  const [ready, setReady] = useState<ReadyInfo | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);
  const [files, setFiles] = useState<Record<string, FileProgress>>({});
  const [plan, setPlan] = useState<Record<string, number> | undefined>(undefined);
  const [loadedRows, setLoadedRows] = useState(0);

  useEffect(() => {
    const onHash = () => setLoc(follow);
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  // the worker reads the contracts and every data file once; the page gets what it shows from the worker
  const client = useMemo(
    () =>
      new SearchClient(BASE, {
        onContracts: ({ info, manifest, plan }) => {
          setSite({ info, manifest });
          setPlan(plan);
        },
        onProgress: (p) => setFiles((f) => ({ ...f, [p.file]: p })),
        onReady: (r) => {
          setReady(r);
          setLoadedRows(r.loaded);
        },
        onLoaded: setLoadedRows,
        onFatal: setFatal,
      }),
    [],
  );

  const navigate = useCallback((route: Route, params?: URLSearchParams) => {
    const q = params && [...params].length ? `?${params.toString()}` : "";
    window.location.hash = `#/${route === "search" ? "" : route}${q}`;
    // at once, not at the hashchange: a controlled checkbox that waits for the event flips back first
    setLoc(follow);
  }, []);

  const random = Boolean(site?.info.random_weights || site?.manifest.model.random_weights || ready?.randomWeights);

  return (
    <div className="min-h-screen">
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-4 px-4 py-3">
          <a href="#/" className="text-xl font-semibold text-sky-800">
            medmir
          </a>
          <nav aria-label="Pages" className="flex gap-1">
            {NAV.map((n) => (
              <a
                key={n.route}
                href={`#/${n.route === "search" ? "" : n.route}`}
                aria-current={loc.route === n.route ? "page" : undefined}
                className={`rounded px-3 py-1.5 text-sm ${loc.route === n.route ? "bg-sky-100 text-sky-900" : "text-slate-700 hover:bg-slate-100"}`}
              >
                {n.label}
              </a>
            ))}
          </nav>
          <p className="ml-auto text-xs text-slate-600">
            {site ? `${site.manifest.model.title} · ${site.info.count} images` : "loading…"} · runs on this device; nothing is sent anywhere
          </p>
        </div>
      </header>
      {random && (
        <div role="alert" data-testid="random-banner" className="bg-red-700 px-4 py-2 text-center text-sm font-semibold text-white">
          Random weights: results are meaningless. This site was built with a random-weight model pack for testing.
        </div>
      )}
      <main className="mx-auto max-w-6xl px-4 py-6">
        {fatal && (
          <div role="alert" data-testid="fatal" className="mb-4 rounded border border-red-300 bg-red-50 p-3 text-sm text-red-900">
            {fatal}
          </div>
        )}
        {!ready && !fatal && <ProgressPanel files={files} expected={plan} />}
        {ready && loadedRows < ready.count && !fatal && <LoadingRest files={files} loaded={loadedRows} count={ready.count} />}
        {loc.route === "search" && site && (
          <SearchPage client={client} ready={ready} params={loc.params} navigate={(p) => navigate("search", p)} scoreBands={site?.info.score_bands} />
        )}
        {(loc.route === "metrics" || loc.route === "hard-cases") && site && <DataPage kind={loc.route} site={site} client={client} />}
        {loc.route === "benchmark" && <BenchmarkPage client={client} ready={ready} />}
      </main>
      <footer className="mx-auto max-w-6xl px-4 pb-8 text-xs text-slate-500">
        For research and education only; not a medical device, not for diagnosis. Images: NIH ChestX-ray14 (Wang et al.,
        CVPR 2017). Model: BiomedCLIP (Zhang et al., 2023).
      </footer>
    </div>
  );
}
