// The weights of an ONNX model handed over as external data: the rewritten graph refers to the original bytes, and
// onnxruntime-web (its Node build: the same WASM kernels as the site) computes exactly what it computes from the
// whole model. The model is written here, field by field, as the protobuf encoder of the onnx package writes it.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { weightsApart } from "../src/worker/model/onnxWeights";

type Pb = (number | Uint8Array)[];
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  return [...out, n];
};
const cat = (parts: Pb): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === "number" ? [p] : [...p])));
const num = (field: number, v: number) => cat([...varint(field * 8), ...varint(v)]);
const bytes = (field: number, b: Uint8Array) => cat([...varint(field * 8 + 2), ...varint(b.length), b]);
const str = (field: number, s: string) => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...parts: Uint8Array[]) => bytes(field, cat(parts));

const N = 64;
const W = Float32Array.from({ length: N * N }, (_, i) => Math.sin(i) / 8);
const B = Float32Array.from({ length: N }, (_, i) => i / 100);
const raw = (a: Float32Array) => new Uint8Array(a.buffer.slice(0));
// TensorProto: dims 1, data_type 2 (FLOAT = 1), name 8, raw_data 9, data_location 14 (written as DEFAULT = 0, as
// onnx does for tensors made by numpy_helper in some versions: the rewrite must replace it)
const tensor = (name: string, dims: number[], data: Float32Array, location?: number) =>
  msg(5, ...dims.map((d) => num(1, d)), num(2, 1), str(8, name), bytes(9, raw(data)), ...(location === undefined ? [] : [num(14, location)]));
const valueInfo = (field: number, name: string) =>
  msg(field, str(1, name), msg(2, msg(1, num(1, 1), msg(2, msg(1, num(1, 1)), msg(1, num(1, N))))));
const node = (op: string, inputs: string[], output: string) => msg(1, ...inputs.map((i) => str(1, i)), str(2, output), str(4, op));

function model(): Uint8Array {
  const graph = msg(
    7,
    node("MatMul", ["x", "W"], "h"),
    node("Add", ["h", "B"], "y"),
    str(2, "g"),
    tensor("W", [N, N], W, 0),
    tensor("B", [N], B),
    valueInfo(11, "x"),
    valueInfo(12, "y"),
  );
  // ir_version 1, producer_name 2, graph 7, opset_import 8 ({domain "", version 13})
  return cat([num(1, 8), str(2, "medmir-test"), graph, msg(8, str(1, ""), num(2, 13))]);
}

async function ort() {
  const require_ = createRequire(import.meta.url);
  const url = pathToFileURL(require_.resolve("onnxruntime-web/wasm").replace(/[^/\\]+$/, "ort.wasm.min.mjs")).href;
  const o = (await import(/* @vite-ignore */ url)) as typeof import("onnxruntime-web/wasm");
  o.env.wasm.numThreads = 1;
  return o;
}

describe("weightsApart", () => {
  it("moves only the large initializers, as references into the original bytes", () => {
    const m = model();
    const split = weightsApart(m, "weights", 1024)!;
    expect(split.location).toBe("weights");
    expect(split.graph.length).toBeLessThan(m.length - N * N * 4 + 512);
    // the small bias stays inline, byte for byte
    const bias = raw(B);
    const inGraph = (needle: Uint8Array, hay: Uint8Array) => Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
    expect(inGraph(bias, split.graph)).toBe(true);
    expect(inGraph(raw(W), split.graph)).toBe(false);
    // the reference names where W's bytes are in the model
    const text = new TextDecoder("latin1").decode(split.graph);
    const offset = Number(/offset\x12[\s\S](\d+)/.exec(text)?.[1]);
    const length = Number(/length\x12[\s\S](\d+)/.exec(text)?.[1]);
    expect(length).toBe(N * N * 4);
    expect([...m.subarray(offset, offset + length)]).toEqual([...raw(W)]);
  });

  it("returns null when nothing is large enough to move", () => {
    expect(weightsApart(model(), "weights", 1 << 20)).toBeNull();
  });

  it("rejects bytes that are not a protobuf", () => {
    expect(() => weightsApart(Uint8Array.from([0x0b, 0x01, 0x02]))).toThrow(/not an ONNX model/);
    expect(() => weightsApart(Uint8Array.from([0x3a, 0x7f, 0x00]))).toThrow(/not an ONNX model/);
  });

  it("gives onnxruntime-web the same model: equal outputs from the whole model and from graph + weights", async () => {
    const o = await ort();
    const m = model();
    const split = weightsApart(m)!;
    const whole = await o.InferenceSession.create(m);
    const apart = await o.InferenceSession.create(split.graph, { externalData: [{ path: split.location, data: m }] });
    const x = new o.Tensor("float32", Float32Array.from({ length: N }, (_, i) => Math.cos(i)), [1, N]);
    const a = (await whole.run({ x })).y!.data as Float32Array;
    const b = (await apart.run({ x })).y!.data as Float32Array;
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(a.some((v) => v !== 0)).toBe(true);
  });
});
