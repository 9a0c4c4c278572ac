// An ONNX model's weights handed to onnxruntime-web as "external data" instead of inside its protobuf.
//
// Why: given a whole model, onnxruntime-web copies it into WebAssembly memory, parses it (a second copy of every
// weight) and builds the session's tensors (a third), and WebAssembly memory never shrinks, so the page kept about
// three times the model's size. Given the weights as external data, it copies each weight once, straight into its
// tensor (measured: docs/PERFORMANCE.md). The pack keeps its single-file models (one sha256 each, read as they are by
// Python); the page rewrites only the small graph part: each large initializer's raw_data is replaced by a
// reference (offset, length) into the original bytes, which are passed, uncopied, as the external data file.
//
// Only the fields on that path are decoded (ModelProto.graph -> GraphProto.initializer -> TensorProto.raw_data);
// every other byte is copied as it is. A general protobuf library would decode, copy and re-encode everything.

export interface SplitModel {
  /** the model without its large weights (well under 1% of it) */
  graph: Uint8Array;
  /** the external data file's name, as the graph refers to it */
  location: string;
}

const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const LOCATION_EXTERNAL = 1;

interface Field {
  field: number;
  wire: number;
  /** the whole field: tag, length and value */
  start: number;
  end: number;
  /** the value of a length-delimited field */
  valueStart: number;
}

function varint(buf: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error("not an ONNX model (a protobuf varint runs past the end)");
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(buf, at);
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let next: number;
    let valueStart = afterTag;
    if (wire === WIRE_VARINT) next = varint(buf, afterTag)[1];
    else if (wire === WIRE_64) next = afterTag + 8;
    else if (wire === WIRE_32) next = afterTag + 4;
    else if (wire === WIRE_LEN) {
      const [len, v] = varint(buf, afterTag);
      valueStart = v;
      next = v + len;
    } else throw new Error(`not an ONNX model (protobuf wire type ${wire})`);
    if (next > end) throw new Error("not an ONNX model (a protobuf field runs past its message)");
    yield { field, wire, start: at, end: next, valueStart };
    at = next;
  }
}

class Writer {
  private parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  varint(n: number): void {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 128) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    this.bytes(Uint8Array.from(out));
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  /** a length-delimited field holding what `w` wrote */
  message(field: number, w: Writer): void {
    this.tag(field, WIRE_LEN);
    this.varint(w.length);
    for (const p of w.parts) this.bytes(p);
  }

  string(field: number, s: string): void {
    const w = new Writer();
    w.bytes(new TextEncoder().encode(s));
    this.message(field, w);
  }

  done(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function entry(key: string, value: string): Writer {
  const w = new Writer();
  w.string(1, key);
  w.string(2, value);
  return w;
}

/** The tensor with a large raw_data replaced by a reference into the model's bytes; null to keep it as it is. */
function tensorApart(buf: Uint8Array, f: Field, file: string, minBytes: number): Writer | null {
  let raw: Field | null = null;
  let location: Field | null = null;
  for (const t of fields(buf, f.valueStart, f.end)) {
    if (t.field === TENSOR_EXTERNAL_DATA) return null; // already external
    if (t.field === TENSOR_DATA_LOCATION && t.wire === WIRE_VARINT) location = t;
    if (t.field === TENSOR_RAW_DATA && t.wire === WIRE_LEN) raw = t;
  }
  if (location && varint(buf, location.valueStart)[0] !== 0) return null; // not DEFAULT: external already
  if (!raw || raw.end - raw.valueStart < minBytes) return null;
  const skip = new Set([raw.start, location?.start]);
  const w = new Writer();
  for (const t of fields(buf, f.valueStart, f.end)) if (!skip.has(t.start)) w.bytes(buf.subarray(t.start, t.end));
  w.message(TENSOR_EXTERNAL_DATA, entry("location", file));
  w.message(TENSOR_EXTERNAL_DATA, entry("offset", String(raw.valueStart)));
  w.message(TENSOR_EXTERNAL_DATA, entry("length", String(raw.end - raw.valueStart)));
  w.tag(TENSOR_DATA_LOCATION, WIRE_VARINT);
  w.varint(LOCATION_EXTERNAL);
  return w;
}

/** The model's graph with every initializer of at least `minBytes` raw bytes moved out (a reference into `model`
 * itself, under the name `location`); null when no initializer is that large (nothing to gain). */
export function weightsApart(model: Uint8Array, location = "weights", minBytes = 1024): SplitModel | null {
  const out = new Writer();
  let moved = 0;
  for (const f of fields(model, 0, model.length)) {
    if (f.field !== MODEL_GRAPH || f.wire !== WIRE_LEN) {
      out.bytes(model.subarray(f.start, f.end));
      continue;
    }
    const graph = new Writer();
    for (const g of fields(model, f.valueStart, f.end)) {
      const t = g.field === GRAPH_INITIALIZER && g.wire === WIRE_LEN ? tensorApart(model, g, location, minBytes) : null;
      if (t) {
        graph.message(GRAPH_INITIALIZER, t);
        moved += 1;
      } else graph.bytes(model.subarray(g.start, g.end));
    }
    out.message(MODEL_GRAPH, graph);
  }
  return moved > 0 ? { graph: out.done(), location } : null;
}
