// The worker's side of the protocol (lib/protocol/messages.ts): every reply to the page goes through here.
import type { Reply } from "../lib/protocol/messages";

export const post = (r: Reply, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(r, transfer);

/** A download's progress, reported to the page under the file's name. */
export function progress(file: string) {
  return (loaded: number, total: number, fromCache: boolean) => post({ type: "progress", info: { file, loaded, total, fromCache } });
}

/** An error: a request's when `id` is given, else one that stops the site (start-up, loading the collection). */
export function fail(e: unknown, id?: number): void {
  post({ type: "error", id, message: e instanceof Error ? e.message : String(e) });
}
