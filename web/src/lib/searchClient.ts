// The page's side of the worker protocol: one promise per request, progress and readiness as callbacks.
import type { BenchResult, Filters, ProgressInfo, ReadyInfo, Reply } from "../worker/messages";

export type SearchResult = Omit<Extract<Reply, { type: "results" }>, "type">;

export class Cancelled extends Error {}

type Pending = { resolve: (r: SearchResult) => void; reject: (e: Error) => void };

export class SearchClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private benches = new Map<number, { resolve: (r: BenchResult) => void; reject: (e: Error) => void }>();
  private visionAsked = false;

  constructor(
    base: string,
    private onProgress: (p: ProgressInfo) => void,
    private onReady: (r: ReadyInfo) => void,
    private onFatal: (message: string) => void,
  ) {
    this.worker = new Worker(new URL("../worker/search.worker.ts", import.meta.url), { type: "module", name: "medmir-search" });
    this.worker.onmessage = (ev: MessageEvent<Reply>) => this.handle(ev.data);
    this.worker.onerror = (ev) => this.onFatal(`the search worker failed: ${ev.message || "unknown error"}`);
    this.worker.postMessage({ type: "init", base });
  }

  private handle(r: Reply): void {
    switch (r.type) {
      case "progress":
        this.onProgress(r.info);
        return;
      case "ready":
        this.onReady(r.info);
        return;
      case "visionReady":
        return;
      case "results": {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        const { type: _, ...result } = r;
        p?.resolve(result);
        return;
      }
      case "cancelled": {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        p?.reject(new Cancelled("superseded by a newer query"));
        return;
      }
      case "bench": {
        const b = this.benches.get(r.id);
        this.benches.delete(r.id);
        b?.resolve(r.result);
        return;
      }
      case "error": {
        if (r.id === undefined) {
          this.onFatal(r.message);
          for (const p of this.pending.values()) p.reject(new Error(r.message));
          this.pending.clear();
          return;
        }
        const p = this.pending.get(r.id) ?? this.benches.get(r.id);
        this.pending.delete(r.id);
        this.benches.delete(r.id);
        p?.reject(new Error(r.message));
      }
    }
  }

  private request(msg: Record<string, unknown>, transfer: Transferable[] = []): Promise<SearchResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  search(query: string, k: number, filters?: Filters): Promise<SearchResult> {
    return this.request({ type: "search", query, k, filters });
  }

  searchImage(rgba: Uint8ClampedArray, width: number, height: number, k: number, filters?: Filters): Promise<SearchResult> {
    const buf = rgba.buffer as ArrayBuffer;
    return this.request({ type: "searchImage", rgba: buf, width, height, k, filters }, [buf]);
  }

  /** A sign the user will search with an image: the worker loads and warms the vision model (once). */
  prepareVision(): void {
    if (this.visionAsked) return;
    this.visionAsked = true;
    this.worker.postMessage({ type: "prepareVision" });
  }

  searchVector(row: number, k: number, filters?: Filters): Promise<SearchResult> {
    return this.request({ type: "searchRow", row, k, filters });
  }

  bench(runs: number, query: string): Promise<BenchResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.benches.set(id, { resolve, reject });
      this.worker.postMessage({ type: "bench", id, runs, query });
    });
  }
}
