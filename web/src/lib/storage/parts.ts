// Files a site publishes in parts (`medmir site`: any file over 20 MiB, so no file exceeds a static host's 25 MB
// limit; the list is the site's parts.json, docs/FORMAT.md). Read only when a file is not kept on the device yet.

export interface SplitFile {
  bytes: number;
  /** the parts' URLs, in order */
  urls: string[];
}

let source: { url: string; list: Promise<Map<string, SplitFile>> | null } | null = null;

/** Where this site's parts.json is (the site's root); nothing is fetched until a download needs it. */
export function configureParts(base: string): void {
  source = { url: new URL("parts.json", base).href, list: null };
}

/** The parts of the file at `url`, or null when it is published whole (or the site lists no parts). */
export async function partsOf(url: string): Promise<SplitFile | null> {
  if (!source) return null;
  const s = source;
  s.list ??= load(s.url);
  return (await s.list).get(url) ?? null;
}

async function load(url: string): Promise<Map<string, SplitFile>> {
  let res: Response;
  try {
    res = await fetch(url, { cache: "no-store" });
  } catch {
    return new Map(); // offline: only files already kept on the device can be had anyway
  }
  if (res.status === 404) return new Map(); // a site written before parts existed
  if (!res.ok) throw new Error(`parts.json: cannot load (HTTP ${res.status})`);
  const doc = (await res.json().catch(() => null)) as { format?: string; files?: Record<string, { bytes?: unknown; parts?: unknown }> } | null;
  if (doc?.format !== "medmir-parts" || typeof doc.files !== "object" || doc.files === null) throw new Error("parts.json: not a medmir parts list");
  const out = new Map<string, SplitFile>();
  for (const [path, entry] of Object.entries(doc.files)) {
    const parts = entry.parts;
    if (typeof entry.bytes !== "number" || !Array.isArray(parts) || !parts.every((p) => typeof p === "string")) {
      throw new Error(`parts.json: ${path}: bytes and parts must be a number and a list of paths`);
    }
    out.set(new URL(path, url).href, { bytes: entry.bytes, urls: parts.map((p: string) => new URL(p, url).href) });
  }
  return out;
}

/** The parts joined into one buffer of `bytes`, fetched one after another (progress over the whole). */
export async function fetchParts(
  name: string,
  split: SplitFile,
  bytes: number,
  onProgress?: (loaded: number, total: number) => void,
): Promise<Uint8Array> {
  if (split.bytes !== bytes) throw new Error(`${name}: parts.json lists ${split.bytes} bytes, the manifest ${bytes}`);
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const [i, url] of split.urls.entries()) {
    let res: Response;
    try {
      res = await fetch(url, { cache: "no-store" });
    } catch (e) {
      throw new Error(`${name}: part ${i} download failed (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!res.ok) throw new Error(`${name}: part ${i} download failed (HTTP ${res.status})`);
    const part = new Uint8Array(await res.arrayBuffer());
    if (at + part.byteLength > bytes) throw new Error(`${name}: its parts hold more than ${bytes} bytes (tampered or corrupt)`);
    out.set(part, at);
    at += part.byteLength;
    onProgress?.(at, bytes);
  }
  if (at !== bytes) throw new Error(`${name}: its parts hold ${at} bytes, expected ${bytes} (truncated)`);
  return out;
}
