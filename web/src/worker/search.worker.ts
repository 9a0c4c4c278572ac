// The search worker: owns the tokenizer, the ONNX sessions and the embeddings; the page only renders. This file is
// the entry: it holds the one WorkerState and hands each message to its handler.
import type { Request } from "../lib/protocol/messages";
import { bench } from "./bench";
import { compose, search, searchImage, searchRow, similar, thumbs } from "./queries";
import { fail } from "./reply";
import { init, prepareVision } from "./startup";
import { WorkerState } from "./state";

const w = new WorkerState();

function onRequest(m: Request): void {
  if (m.type === "init") {
    w.ready ??= init(w, m.base);
    w.ready.catch((e: unknown) => fail(e));
    return;
  }
  if (!w.ready) return fail(new Error("the worker was not initialised"), "id" in m ? m.id : undefined);
  if (m.type === "search") {
    w.latest = m.id;
    search(w, m.id, m.query, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "searchImage") {
    w.latest = m.id;
    searchImage(w, m.id, m.rgba, m.width, m.height, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "searchRow") {
    w.latest = m.id;
    searchRow(w, m.id, m.row, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "compose") {
    w.latest = m.id;
    compose(w, m.id, m.spec, m.k, m.filters).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "similar") {
    w.latest = m.id;
    similar(w, m.id, m.row, m.k ?? 10, m.filters).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "thumbs") {
    thumbs(w, m.id, m.keys).catch((e: unknown) => fail(e, m.id));
  } else if (m.type === "prepareVision") {
    prepareVision(w).catch(() => undefined); // a real image search reports any failure
  } else if (m.type === "bench") {
    bench(w, m.id, m.runs, m.query).catch((e: unknown) => fail(e, m.id));
  }
}

// onnxruntime-web's own pthread workers load this same script under the name "em-pthread*": they must not take
// over onmessage, or threaded startup hangs.
if (!(self.name ?? "").startsWith("em-pthread")) {
  self.onmessage = (ev: MessageEvent<Request>) => onRequest(ev.data);
}
