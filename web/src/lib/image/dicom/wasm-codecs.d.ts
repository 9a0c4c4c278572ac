// Types for the decoders' modules (emscripten builds without their own declarations, and a JS-only package).

interface DicomCodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

/** An embind decoder object: its buffers live in the WASM heap (copy before delete()). */
interface DicomWasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): DicomCodecFrameInfo;
  delete(): void;
}

interface DicomJpegLsDecoder extends DicomWasmDecoder {
  /** 0 none (planar output), 1 line, 2 sample */
  getInterleaveMode(): number;
}

type DicomCodecFactory<M> = (options?: {
  locateFile?: (path: string, prefix: string) => string;
  print?: (line: string) => void;
  printErr?: (line: string) => void;
}) => Promise<M>;

declare module "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs" {
  const factory: DicomCodecFactory<{ JPEGDecoder: new () => DicomWasmDecoder }>;
  export default factory;
}

declare module "@cornerstonejs/codec-charls/decodewasmjs" {
  const factory: DicomCodecFactory<{ JpegLSDecoder: new () => DicomJpegLsDecoder }>;
  export default factory;
}

declare module "@cornerstonejs/codec-openjpeg/decodewasmjs" {
  const factory: DicomCodecFactory<{ J2KDecoder: new () => DicomWasmDecoder }>;
  export default factory;
}

declare module "jpeg-lossless-decoder-js" {
  export class Decoder {
    numComp: number;
    xDim: number;
    yDim: number;
    decode(buffer: ArrayBuffer, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
  }
}
