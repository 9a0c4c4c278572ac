// The URL drives the search, so every result page can be shared or bookmarked: whenever the URL's search changes
// (query, filters, pages; not the display-only grouping), the search it names runs.
import { useEffect, type MutableRefObject } from "react";
import type { SearchClient } from "../../lib/protocol/searchClient";
import { filtersFrom, pagesFrom, rowQueryFilters, samePatientFrom, searchKey } from "./params";
import { composedPlan } from "./refineParams";
import { PAGE } from "./ResultsSection";
import type { SearchRun } from "./useSearchRun";

/** `skipSearch`: the URL an upload's search moved to (img=1), whose results are already shown, so it is not searched
 * again. */
export function useUrlSearch(
  client: SearchClient,
  params: URLSearchParams,
  { run, fail, clear }: SearchRun,
  skipSearch: MutableRefObject<string | null>,
): void {
  useEffect(() => {
    const k = pagesFrom(params) * PAGE;
    const skip = skipSearch.current === params.toString();
    skipSearch.current = null;
    if (skip) return;
    const q = params.get("q") ?? "";
    const similar = params.get("similar");
    const like = params.get("like");
    // a row query's key says when it keeps the query image's patient's other images (same=1)
    const sameTag = samePatientFrom(params) ? "&same=1" : "";
    // words with exclusions, an image plus words, marked results: composed in the worker, always live
    const plan = composedPlan(params);
    if (plan?.error !== undefined) {
      fail(plan.key, new Error(plan.error));
    } else if (plan) {
      const b = plan.spec.base;
      void run(plan.key, () => client.compose(plan.spec, k, b.kind === "row" ? rowQueryFilters(params, b.row) : filtersFrom(params)));
    } else if (similar !== null) {
      // the query image's patient's other images left out unless same=1 (the precomputed neighbours answer when
      // that leaves out none of them and no filter is set)
      void run(`similar:${similar}${sameTag}`, () => client.similar(Number(similar), k, rowQueryFilters(params, Number(similar))));
    } else if (like !== null) {
      void run(`like:${like}${sameTag}`, () => client.searchVector(Number(like), k, rowQueryFilters(params, Number(like))));
    } else if (q.trim()) {
      void run(`q:${q}`, () => client.search(q, k, filtersFrom(params)));
    } else {
      clear();
    }
  }, [searchKey(params)]); // the URL (query, filters, pages; not the display-only grouping) is a search's whole input
}
