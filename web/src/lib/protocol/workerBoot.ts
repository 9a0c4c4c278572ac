// The search worker starts before the app's code has even been parsed: main.tsx creates it first thing and loads
// the app (React, the pages: ~0.75 MB of script) afterwards, so the model and the collection load meanwhile. Until
// the page's SearchClient takes the worker over, its replies wait here (a Worker drops a message nobody listens to).
import type { Reply } from "./messages";

let booted: { worker: Worker; early: Reply[] } | null = null;

export function bootWorker(base: string): void {
  if (booted) return;
  // the worker's entry by URL: Vite bundles it apart, so the page's code imports nothing from worker/
  const worker = new Worker(new URL("../../worker/search.worker.ts", import.meta.url), { type: "module", name: "medmir-search" });
  const early: Reply[] = [];
  worker.onmessage = (ev: MessageEvent<Reply>) => early.push(ev.data);
  worker.postMessage({ type: "init", base });
  booted = { worker, early };
}

/** The booted worker (booting it now if main.tsx did not) and the replies it sent so far, once. */
export function takeWorker(base: string): { worker: Worker; early: Reply[] } {
  bootWorker(base);
  const b = booted!;
  booted = null;
  return b;
}
