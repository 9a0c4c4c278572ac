// The page's side of the worker protocol: one promise per request, contracts, progress and readiness as callbacks.
// The worker holds the collection (embeddings, metadata, neighbours, thumbnails); the page asks it for what it shows.
import type { BenchResult, Filters, ProgressInfo, QuerySpec, ReadyInfo, Reply } from "./messages";
import type { IndexInfo, Manifest } from "../contracts/bundle";
import { dataUrl } from "../site/display";
import { takeWorker } from "./workerBoot";

export type SearchResult = Omit<Extract<Reply, { type: "results" }>, "type">;

export class Cancelled extends Error {}

export interface ClientEvents {
  onContracts: (c: { info: IndexInfo; manifest: Manifest; plan: Record<string, number> }) => void;
  onProgress: (p: ProgressInfo) => void;
  onReady: (r: ReadyInfo) => void;
  onLoaded: (rows: number) => void;
  onFatal: (message: string) => void;
}

type Waiter<T> = { resolve: (r: T) => void; reject: (e: Error) => void };

export class SearchClient {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Waiter<SearchResult>>();
  private benches = new Map<number, Waiter<BenchResult>>();
  private thumbReplies = new Map<number, Waiter<(Uint8Array | null)[]>>();
  private visionAsked = false;
  // thumbnails the worker sent, as object URLs (a few kB each; kept for the page's life, so never revoked)
  private thumbUrls = new Map<number | string, Promise<string | null>>();
  private thumbBatch: { keys: (number | string)[]; waiters: Waiter<string | null>[] } | null = null;

  constructor(
    private base: string,
    private events: ClientEvents,
  ) {
    const { worker, early } = takeWorker(base);
    this.worker = worker;
    this.worker.onerror = (ev) => this.events.onFatal(`the search worker failed: ${ev.message || "unknown error"}`);
    // after the render that created this client (the events set its state); replies keep their order: until then
    // the boot handler still collects them
    queueMicrotask(() => {
      for (const r of early.splice(0)) this.handle(r);
      worker.onmessage = (ev: MessageEvent<Reply>) => this.handle(ev.data);
    });
  }

  private settle<T>(map: Map<number, Waiter<T>>, id: number): Waiter<T> | undefined {
    const w = map.get(id);
    map.delete(id);
    return w;
  }

  private handle(r: Reply): void {
    switch (r.type) {
      case "contracts":
        this.events.onContracts(r);
        return;
      case "progress":
        this.events.onProgress(r.info);
        return;
      case "ready":
        this.events.onReady(r.info);
        return;
      case "loaded":
        this.events.onLoaded(r.rows);
        return;
      case "visionReady":
        return;
      case "results": {
        const { type: _, ...result } = r;
        this.settle(this.pending, r.id)?.resolve(result);
        return;
      }
      case "thumbs":
        this.settle(this.thumbReplies, r.id)?.resolve(r.images);
        return;
      case "cancelled":
        this.settle(this.pending, r.id)?.reject(new Cancelled("superseded by a newer query"));
        return;
      case "bench":
        this.settle(this.benches, r.id)?.resolve(r.result);
        return;
      case "error": {
        if (r.id === undefined) {
          this.events.onFatal(r.message);
          for (const p of this.pending.values()) p.reject(new Error(r.message));
          this.pending.clear();
          return;
        }
        const e = new Error(r.message);
        this.settle(this.pending, r.id)?.reject(e);
        this.settle(this.benches, r.id)?.reject(e);
        this.settle(this.thumbReplies, r.id)?.reject(e);
      }
    }
  }

  private ask<T>(map: Map<number, Waiter<T>>, msg: Record<string, unknown>, transfer: Transferable[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      map.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  search(query: string, k: number, filters?: Filters): Promise<SearchResult> {
    return this.ask(this.pending, { type: "search", query, k, filters });
  }

  searchImage(rgba: Uint8ClampedArray, width: number, height: number, k: number, filters?: Filters): Promise<SearchResult> {
    const buf = rgba.buffer as ArrayBuffer;
    return this.ask(this.pending, { type: "searchImage", rgba: buf, width, height, k, filters }, [buf]);
  }

  /** A sign the user will search with an image: the worker loads and warms the vision model (once). */
  prepareVision(): void {
    if (this.visionAsked) return;
    this.visionAsked = true;
    this.worker.postMessage({ type: "prepareVision" });
  }

  searchVector(row: number, k: number, filters?: Filters): Promise<SearchResult> {
    return this.ask(this.pending, { type: "searchRow", row, k, filters });
  }

  /** A composed or refined query (words with exclusions, an image plus words, marked results), always live. */
  compose(spec: QuerySpec, k: number, filters?: Filters): Promise<SearchResult> {
    return this.ask(this.pending, { type: "compose", spec, k, filters });
  }

  /** Find Similar: the bundle's precomputed neighbours of a row, or (a filter set, or the patient rule leaving one
   * of them out) the k best other rows ranked live with the filters. */
  similar(row: number, k?: number, filters?: Filters): Promise<SearchResult> {
    return this.ask(this.pending, { type: "similar", row, k, filters });
  }

  /** A thumbnail's URL: its file in a version 1 bundle (`path`), else an object URL of the bytes the worker reads
   * from its pack (requests of one render are batched into one message); null when it cannot be had. */
  thumbnailUrl(key: number | string, path: string | null): Promise<string | null> {
    if (path) return Promise.resolve(dataUrl(this.base, path));
    let url = this.thumbUrls.get(key);
    if (!url) {
      url = new Promise<string | null>((resolve, reject) => {
        if (!this.thumbBatch) {
          this.thumbBatch = { keys: [], waiters: [] };
          queueMicrotask(() => this.sendThumbBatch());
        }
        this.thumbBatch.keys.push(key);
        this.thumbBatch.waiters.push({ resolve, reject });
      });
      url.catch(() => this.thumbUrls.delete(key)); // a failure may be retried by a later render
      this.thumbUrls.set(key, url);
    }
    return url;
  }

  private sendThumbBatch(): void {
    const batch = this.thumbBatch!;
    this.thumbBatch = null;
    this.ask(this.thumbReplies, { type: "thumbs", keys: batch.keys }).then(
      (images) =>
        batch.waiters.forEach((w, i) => {
          const b = images[i];
          w.resolve(b ? URL.createObjectURL(new Blob([b as Uint8Array<ArrayBuffer>], { type: "image/webp" })) : null);
        }),
      (e: Error) => batch.waiters.forEach((w) => w.reject(e)),
    );
  }

  bench(runs: number, query: string): Promise<BenchResult> {
    return this.ask(this.benches, { type: "bench", runs, query });
  }
}
