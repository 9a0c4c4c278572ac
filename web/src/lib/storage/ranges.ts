// Parts of large bundle files (thumbnail packs, neighbour shards) by HTTP Range request, so a page showing ten
// results downloads ten thumbnails, not ten packs. Hosts that ignore Range answer 200 with the whole file: then
// the whole file is verified (sha256), kept on the device (lib/storage/fileStore.ts), and every later part is cut from it, so no file is
// downloaded twice. A file already kept (verified) is read from there, which also works offline.

import { acceptWhole, fetchVerified, readCached } from "./cache";
import type { FileSpec } from "./fileSpec";
import { partsOf } from "./parts";

export class RangeReader {
  /** false once the host has shown it ignores Range: from then on whole files */
  private ranges = true;
  private whole = new Map<string, Promise<Uint8Array>>();
  /** the first request, until it has shown whether the host honours Range (others wait: a host that ignores it
   * would otherwise send the whole file once per request) */
  private probe: Promise<unknown> | null = null;

  /** Bytes [start, end] (inclusive) of the file. */
  async read(spec: FileSpec, start: number, end: number): Promise<Uint8Array> {
    if (start < 0 || end < start || end >= spec.bytes) throw new Error(`${spec.name}: bytes ${start}-${end} are outside its ${spec.bytes} bytes`);
    if (this.probe) await this.probe.catch(() => undefined);
    else if (this.ranges) {
      const first = this.part(spec, start, end);
      this.probe = first;
      return first;
    }
    return this.part(spec, start, end);
  }

  private async part(spec: FileSpec, start: number, end: number): Promise<Uint8Array> {
    const kept = this.whole.get(spec.url) ?? (await this.cached(spec));
    if (kept) return (await kept).subarray(start, end + 1);
    if (!this.ranges) return (await this.wholeFile(spec)).subarray(start, end + 1);
    let res: Response;
    try {
      res = await fetch(spec.url, { headers: { Range: `bytes=${start}-${end}` }, cache: "no-store" });
    } catch (e) {
      throw new Error(`${spec.name}: download failed (${e instanceof Error ? e.message : String(e)})`);
    }
    if (res.status === 206) {
      const got = new Uint8Array(await res.arrayBuffer());
      const range = res.headers.get("content-range") ?? "";
      if (got.byteLength !== end - start + 1 || !range.startsWith(`bytes ${start}-${end}/`)) {
        throw new Error(`${spec.name}: the server sent bytes "${range}" (${got.byteLength}), not ${start}-${end}`);
      }
      return got;
    }
    // a file published in parts (over a host's size limit) has no URL of its own: read whole, from its parts; asked
    // only then, so a visit whose files are all whole never fetches parts.json
    if (res.status === 404 && (await partsOf(spec.url))) return (await this.wholeFile(spec)).subarray(start, end + 1);
    if (!res.ok) throw new Error(`${spec.name}: download failed (HTTP ${res.status})`);
    // the host ignored Range: this body is the whole file; verify it and keep it
    this.ranges = false;
    const whole = this.whole.get(spec.url) ?? acceptWhole(spec, res);
    this.keep(spec.url, whole);
    return (await whole).subarray(start, end + 1);
  }

  private async cached(spec: FileSpec): Promise<Promise<Uint8Array> | null> {
    const data = await readCached(spec);
    if (!data) return null;
    const p = Promise.resolve(data);
    this.keep(spec.url, p);
    return p;
  }

  private wholeFile(spec: FileSpec): Promise<Uint8Array> {
    const p = this.whole.get(spec.url) ?? fetchVerified(spec);
    this.keep(spec.url, p);
    p.catch(() => this.whole.delete(spec.url));
    return p;
  }

  // a few whole files in memory (a thumbnail pack is ~10 MB); the rest stay in the device's store
  private keep(url: string, p: Promise<Uint8Array>): void {
    this.whole.delete(url);
    this.whole.set(url, p);
    while (this.whole.size > 3) this.whole.delete(this.whole.keys().next().value!);
  }
}
