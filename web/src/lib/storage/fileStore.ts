// Where the verified files of a site are kept on this device: the origin private file system (OPFS) where the
// browser has it, else Cache Storage. On a repeat visit the 110 MB INT8 text model is read back on the path to the
// first result, and Cache Storage (like a File's arrayBuffer()) hands it over through the browser process, slower
// than a dedicated worker's synchronous read of an OPFS file (docs/PERFORMANCE.md). In OPFS a file is
// named by its sha256 (written only after it was verified, and atomically: a writable stream's data appears on
// close), in a folder per site, so a rebuilt site's new files never meet its old ones, and `prune` removes what the
// site no longer lists.
import type { FileSpec } from "./fileSpec";

export interface FileStore {
  readonly kind: "opfs" | "cache";
  /** the verified bytes kept for this file, or null */
  read(spec: FileSpec): Promise<Uint8Array | null>;
  /** keeps verified bytes; failures are swallowed (the next visit downloads the file again) */
  write(spec: FileSpec, data: Uint8Array): Promise<void>;
  /** removes this site's kept files not among `keep` */
  prune(keep: readonly FileSpec[]): Promise<void>;
}

const CACHE = "medmir-files-v1";
const SHA_HEADER = "x-medmir-sha256";
const ROOT = "medmir-files";
const SHA256 = /^[0-9a-f]{64}$/;

/** Cache Storage, the files under their URL (where OPFS is missing: older browsers, some private modes). */
class CacheStore implements FileStore {
  readonly kind = "cache";
  constructor(
    private readonly cache: Cache,
    private readonly site: string,
  ) {}

  async read(spec: FileSpec): Promise<Uint8Array | null> {
    const hit = await this.cache.match(spec.url);
    if (!hit || hit.headers.get(SHA_HEADER) !== spec.sha256) return null;
    const data = new Uint8Array(await hit.arrayBuffer());
    return data.byteLength === spec.bytes ? data : null;
  }

  async write(spec: FileSpec, data: Uint8Array): Promise<void> {
    // new Response(bytes) takes its own copy of them (Fetch: "extract a body")
    const headers = { [SHA_HEADER]: spec.sha256, "content-type": "application/octet-stream" };
    await this.cache.put(spec.url, new Response(data as Uint8Array<ArrayBuffer>, { headers })).catch(() => undefined);
  }

  async prune(keep: readonly FileSpec[]): Promise<void> {
    const wanted = new Set(keep.map((s) => s.url));
    const ours = [`${this.site}data/`, `${this.site}model/`];
    for (const req of await this.cache.keys()) {
      if (ours.some((p) => req.url.startsWith(p)) && !wanted.has(req.url)) await this.cache.delete(req).catch(() => undefined);
    }
  }
}

class OpfsStore implements FileStore {
  readonly kind = "opfs";
  constructor(
    private readonly dir: FileSystemDirectoryHandle,
    private readonly legacy: Cache | null,
  ) {}

  async read(spec: FileSpec): Promise<Uint8Array | null> {
    if (!SHA256.test(spec.sha256)) return null;
    let handle: FileSystemFileHandle;
    try {
      handle = await this.dir.getFileHandle(spec.sha256);
    } catch {
      return null; // not kept (NotFoundError), or the store is unusable now
    }
    return (await readSync(handle, spec.bytes)) ?? readFile(handle, spec.bytes);
  }

  async write(spec: FileSpec, data: Uint8Array): Promise<void> {
    if (!SHA256.test(spec.sha256)) return;
    try {
      const w = await (await this.dir.getFileHandle(spec.sha256, { create: true })).createWritable();
      await w.write(data as Uint8Array<ArrayBuffer>);
      await w.close(); // the data appears only here, all at once: a write cut short leaves no partial file
    } catch {
      // quota, the file busy in another tab, a store gone away: the next visit downloads it again
    }
  }

  async prune(keep: readonly FileSpec[]): Promise<void> {
    const names = new Set(keep.map((s) => s.sha256));
    const stale: string[] = [];
    for await (const name of (this.dir as unknown as { keys(): AsyncIterable<string> }).keys()) if (!names.has(name)) stale.push(name);
    for (const name of stale) await this.dir.removeEntry(name).catch(() => undefined);
    // copies an earlier version of the site kept in Cache Storage
    if (this.legacy) for (const s of keep) await this.legacy.delete(s.url).catch(() => undefined);
  }
}

interface SyncHandle {
  getSize(): number;
  read(buffer: Uint8Array, options: { at: number }): number;
  close(): void;
}

/** A dedicated worker reads the file straight into memory (a sync access handle): File.arrayBuffer() took as long
 * as Cache Storage. Null where there is no such handle (the page) or the file is busy (another tab reads it). */
async function readSync(handle: FileSystemFileHandle, bytes: number): Promise<Uint8Array | null> {
  const open = (handle as unknown as { createSyncAccessHandle?: () => Promise<SyncHandle> }).createSyncAccessHandle;
  if (!open) return null;
  let h: SyncHandle;
  try {
    h = await open.call(handle);
  } catch {
    return null;
  }
  try {
    if (h.getSize() !== bytes) return null;
    const data = new Uint8Array(bytes);
    for (let at = 0; at < bytes; ) {
      const n = h.read(data.subarray(at), { at });
      if (n <= 0) return null;
      at += n;
    }
    return data;
  } finally {
    h.close();
  }
}

async function readFile(handle: FileSystemFileHandle, bytes: number): Promise<Uint8Array | null> {
  try {
    const file = await handle.getFile();
    return file.size === bytes ? new Uint8Array(await file.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === "undefined" ? null : await caches.open(CACHE);
  } catch {
    return null; // refused (private mode, opaque origin)
  }
}

async function siteFolder(siteUrl: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(siteUrl));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const stores = new Map<string, Promise<FileStore | null>>();

/** The store of the site at `siteUrl` (its base URL, with data/ and model/ below it): OPFS, else Cache Storage,
 * else null (nothing is kept). */
export function fileStore(siteUrl: string): Promise<FileStore | null> {
  let s = stores.get(siteUrl);
  if (!s) {
    s = openStore(siteUrl);
    stores.set(siteUrl, s);
  }
  return s;
}

async function openStore(siteUrl: string): Promise<FileStore | null> {
  const cache = await openCache();
  try {
    if (typeof navigator !== "undefined" && navigator.storage?.getDirectory) {
      const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(ROOT, { create: true });
      const dir = await root.getDirectoryHandle(await siteFolder(siteUrl), { create: true });
      if ("createWritable" in FileSystemFileHandle.prototype) return new OpfsStore(dir, cache);
    }
  } catch {
    // OPFS refused (private mode, storage off): Cache Storage
  }
  return cache ? new CacheStore(cache, siteUrl) : null;
}
