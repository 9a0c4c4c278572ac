// Downloading pack and bundle files once: verified against the sha256 that manifest.json / index_info.json list,
// kept on this device (fileStore.ts: OPFS, else Cache Storage), read from there on later visits and offline.

import type { FileSpec } from "./fileSpec";
import { fileStore } from "./fileStore";
import { fetchParts, partsOf } from "./parts";

export type Progress = (loaded: number, total: number, fromCache: boolean) => void;

export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  const view = data instanceof Uint8Array ? data : new Uint8Array(data);
  const digest = await crypto.subtle.digest("SHA-256", view as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The site a bundle or pack file belongs to: its URL is SITE/data/NAME or SITE/model/NAME. */
export const siteOf = (spec: FileSpec): string => new URL("../", spec.url).href;

async function readWithProgress(res: Response, total: number, onProgress?: Progress): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const buf = new Uint8Array(total);
  let loaded = 0;
  const extra: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length <= total) buf.set(value, loaded);
    else extra.push(value);
    loaded += value.length;
    onProgress?.(Math.min(loaded, total), total, false);
  }
  if (loaded !== total) {
    throw new Error(`${res.url.split("/").pop()}: received ${loaded} bytes, expected ${total} (truncated or replaced)`);
  }
  return buf;
}

/** The file's verified bytes as this device keeps them (lib/storage/fileStore.ts), or null when none are kept. */
export async function readCached(spec: FileSpec): Promise<Uint8Array | null> {
  return (await fileStore(siteOf(spec)))?.read(spec) ?? null;
}

/** The file's bytes, verified; from this device's store when a verified copy is there. A file the site publishes
 * in parts (lib/storage/parts.ts) is fetched part by part and joined first. */
export async function fetchVerified(spec: FileSpec, onProgress?: Progress): Promise<Uint8Array> {
  const hit = await readCached(spec);
  if (hit) {
    onProgress?.(spec.bytes, spec.bytes, true);
    return hit;
  }
  const split = await partsOf(spec.url);
  if (split) {
    const data = await fetchParts(spec.name, split, spec.bytes, (loaded, total) => onProgress?.(loaded, total, false));
    return verifyAndKeep(spec, data);
  }
  let res: Response;
  try {
    res = await fetch(spec.url, { cache: "no-store" });
  } catch (e) {
    throw new Error(`${spec.name}: download failed (${e instanceof Error ? e.message : String(e)})`);
  }
  return acceptWhole(spec, res, onProgress);
}

/** A 200 answer for the whole file: read, verified against its sha256, kept on this device. */
export async function acceptWhole(spec: FileSpec, res: Response, onProgress?: Progress): Promise<Uint8Array> {
  if (!res.ok) throw new Error(`${spec.name}: download failed (HTTP ${res.status})`);
  return verifyAndKeep(spec, await readWithProgress(res, spec.bytes, onProgress));
}

async function verifyAndKeep(spec: FileSpec, data: Uint8Array): Promise<Uint8Array> {
  const digest = await sha256Hex(data);
  if (digest !== spec.sha256) {
    throw new Error(`${spec.name}: sha256 mismatch, the file on the server is not the one its manifest lists (tampered or corrupt)`);
  }
  // not awaited: writing a 100 MB model takes a noticeable time the search need not wait for (a visit that ends
  // before it completes downloads the file again next time)
  void fileStore(siteOf(spec)).then((store) => store?.write(spec, data));
  return data;
}

/** Removes the kept files of the site of `keep` that it no longer lists (an earlier build's shards and models). */
export async function pruneKept(keep: readonly FileSpec[]): Promise<void> {
  if (keep.length > 0) await (await fileStore(siteOf(keep[0]!)))?.prune(keep);
}

const SETTINGS = "medmir-settings-v1";

/** A small JSON value this site keeps for itself on this device (e.g. the thread-count calibration); null if none. */
export async function readSetting(url: string): Promise<unknown> {
  try {
    const hit = typeof caches === "undefined" ? undefined : await (await caches.open(SETTINGS)).match(url);
    return hit ? ((await hit.json()) as unknown) : null;
  } catch {
    return null; // refused or damaged: as if never written
  }
}

export async function writeSetting(url: string, value: unknown): Promise<void> {
  try {
    if (typeof caches === "undefined") return;
    const body = JSON.stringify(value);
    await (await caches.open(SETTINGS)).put(url, new Response(body, { headers: { "content-type": "application/json" } }));
  } catch {
    // Cache Storage refused: the next visit measures again
  }
}

/** Small JSON documents (manifest, index_info): always from the network when it answers. */
export async function fetchJson(url: string, name: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${name}: cannot load (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!res.ok) throw new Error(`${name}: cannot load (HTTP ${res.status})`);
  try {
    return await res.json();
  } catch {
    throw new Error(`${name}: not valid JSON (truncated or damaged?)`);
  }
}
