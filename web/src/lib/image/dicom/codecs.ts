// The compressed syntaxes' decoders, each loaded on first use (dynamic import), so a visit that never drops such
// a DICOM downloads none of them. The WASM files are the site's own: Vite emits each `?url` import into assets/
// (content-hashed, same origin; nothing comes from a CDN) and emscripten is told where it is (locateFile). In Node
// (the tests) emscripten reads the .wasm next to its script instead, since a site URL means nothing there.

import { asStoredComponents } from "./jpegColour";
import type { Codec } from "./syntaxes";

export interface CodecOutput {
  /** samples, pixel-interleaved unless `planar` */
  samples: Uint8Array | Uint16Array | Int16Array;
  width: number;
  height: number;
  components: number;
  planar: boolean;
}

// What the decoders print (OpenJPEG reports every tile): the last lines explain a failure, nothing is shown.
let printed: string[] = [];
const keep = (line: string) => {
  printed.push(line);
  if (printed.length > 20) printed.shift();
};

const wasmOptions = (url: string) => ({
  print: keep,
  printErr: keep,
  ...(import.meta.env.SSR ? {} : { locateFile: () => url }),
});

/** A module loaded once, and again after `drop()` (a failed download, or a decoder that aborted its instance). */
function cached<T>(load: () => Promise<T>): { get: () => Promise<T>; drop: () => void } {
  let p: Promise<T> | null = null;
  return {
    get: () =>
      (p ??= load().catch((e: unknown) => {
        p = null;
        throw e;
      })),
    drop: () => {
      p = null;
    },
  };
}

const libjpegTurbo = cached(async () => {
  const [{ default: factory }, { default: url }] = await Promise.all([
    import("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs"),
    import("@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm?url"),
  ]);
  return factory(wasmOptions(url));
});

const charls = cached(async () => {
  const [{ default: factory }, { default: url }] = await Promise.all([
    import("@cornerstonejs/codec-charls/decodewasmjs"),
    import("@cornerstonejs/codec-charls/decodewasm?url"),
  ]);
  return factory(wasmOptions(url));
});

const openjpeg = cached(async () => {
  const [{ default: factory }, { default: url }] = await Promise.all([
    import("@cornerstonejs/codec-openjpeg/decodewasmjs"),
    import("@cornerstonejs/codec-openjpeg/decodewasm?url"),
  ]);
  return factory(wasmOptions(url));
});

/** Run an embind decoder on `data`; the output is copied out of the WASM heap before the decoder is freed. */
function runWasm<D extends DicomWasmDecoder>(decoder: D, data: Uint8Array, after?: (d: D) => Partial<CodecOutput>) {
  printed = [];
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    try {
      decoder.decode();
    } catch (e) {
      throw new Error(failure(e));
    }
    const info = decoder.getFrameInfo();
    if (!info.width || !info.height) throw new Error(failure(null));
    const bytes = decoder.getDecodedBuffer().slice(); // own ArrayBuffer, offset 0: viewable as 16-bit
    const samples =
      info.bitsPerSample <= 8
        ? bytes
        : info.isSigned
          ? new Int16Array(bytes.buffer, 0, bytes.length >> 1)
          : new Uint16Array(bytes.buffer, 0, bytes.length >> 1);
    return {
      samples,
      width: info.width,
      height: info.height,
      components: info.componentCount,
      planar: false,
      ...after?.(decoder),
    };
  } finally {
    decoder.delete();
  }
}

/** Why a decoder failed: its exception, else its last error line. */
function failure(e: unknown): string {
  const said = printed.filter((l) => /error/i.test(l)).pop() ?? printed.at(-1);
  const thrown = e instanceof Error ? e.message : typeof e === "number" ? "" : e ? String(e) : "";
  return [thrown, said?.replace(/^\[ERROR\]\s*/, "")].filter(Boolean).join("; ") || "the decoder could not read the codestream";
}

/** Run `decode` on a cached WASM module; an exception may leave the instance aborted, so the next use reloads it. */
async function withModule<M, R>(module: { get: () => Promise<M>; drop: () => void }, decode: (m: M) => R): Promise<R> {
  const m = await module.get();
  try {
    return decode(m);
  } catch (e) {
    module.drop();
    throw e;
  }
}

/** Decode one frame's codestream with the syntax's decoder. */
export async function decodeCodestream(codec: Exclude<Codec, "native" | "rle">, data: Uint8Array, bitsAllocated: number): Promise<CodecOutput> {
  switch (codec) {
    case "jpeg":
      return withModule(libjpegTurbo, (m) => runWasm(new m.JPEGDecoder(), asStoredComponents(data)));
    case "jpegLs":
      return withModule(charls, (m) =>
        runWasm(new m.JpegLSDecoder(), data, (d) => ({ planar: d.getInterleaveMode() === 0 })),
      );
    case "jpeg2000":
      return withModule(openjpeg, (m) => runWasm(new m.J2KDecoder(), data));
    case "jpegLossless": {
      const { Decoder } = await import("jpeg-lossless-decoder-js");
      const d = new Decoder();
      // an own, offset-0 copy: the decoder reads the ArrayBuffer from the start
      const copy = data.slice();
      const samples = d.decode(copy.buffer, 0, copy.length, bitsAllocated <= 8 ? 1 : 2);
      return { samples, width: d.xDim, height: d.yDim, components: d.numComp, planar: false };
    }
  }
}
