/**
 * A small PNG decoder for tests (Node only: `node:zlib`). The browser decodes with createImageBitmap; this exists
 * so the preprocessing tests can read the NIH X-rays from ../shared without a dependency.
 *
 * Supported: 8-bit, non-interlaced, colour types 0 (gray), 2 (RGB), 4 (gray + alpha), 6 (RGBA), all five
 * filter types, IDAT split over any number of chunks. Chunk CRCs are verified. Anything else (palette,
 * 1/2/4/16-bit, Adam7 interlacing, unknown critical chunks) is rejected with an error naming the file's value.
 */
import { inflateSync } from "node:zlib";

import type { RGBImage } from "../src/worker/model/preprocess";

export interface DecodedPng {
  width: number;
  height: number;
  /** 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA */
  channels: 1 | 2 | 3 | 4;
  /** row-major, `channels` bytes per pixel, unfiltered */
  data: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, 1 | 2 | 3 | 4 | undefined> = { 0: 1, 2: 3, 4: 2, 6: 4 };

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO 3309, as PNG chunks use), over `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

export function decodePng(bytes: Uint8Array): DecodedPng {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) throw new Error("not a PNG (bad signature)");
  let pos = 8;
  let header: { width: number; height: number; channels: 1 | 2 | 3 | 4 } | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (!ended) {
    if (pos + 12 > bytes.length) throw new Error("truncated PNG (no IEND chunk)");
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    if (pos + 12 + len > bytes.length) throw new Error(`truncated PNG (chunk ${type} runs past the end)`);
    const body = bytes.subarray(pos + 8, pos + 8 + len);
    const crc = view.getUint32(pos + 8 + len);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) !== crc) throw new Error(`corrupt PNG (CRC mismatch in ${type})`);
    pos += 12 + len;
    if (!header && type !== "IHDR") throw new Error(`corrupt PNG (first chunk is ${type}, not IHDR)`);
    switch (type) {
      case "IHDR": {
        if (header) throw new Error("corrupt PNG (second IHDR)");
        if (len !== 13) throw new Error("corrupt PNG (IHDR length)");
        const hv = new DataView(body.buffer, body.byteOffset, 13);
        const width = hv.getUint32(0);
        const height = hv.getUint32(4);
        const depth = body[8]!;
        const colorType = body[9]!;
        const compression = body[10]!;
        const filter = body[11]!;
        const interlace = body[12]!;
        if (width === 0 || height === 0) throw new Error(`unsupported PNG: empty image ${width}x${height}`);
        if (depth !== 8) throw new Error(`unsupported PNG: bit depth ${depth} (only 8 is supported)`);
        const channels = CHANNELS[colorType];
        if (channels === undefined) {
          throw new Error(`unsupported PNG: colour type ${colorType} (only 0, 2, 4 and 6 are supported)`);
        }
        if (compression !== 0 || filter !== 0) throw new Error("unsupported PNG: unknown compression/filter method");
        if (interlace !== 0) throw new Error(`unsupported PNG: interlace method ${interlace} (only 0 is supported)`);
        header = { width, height, channels };
        break;
      }
      case "IDAT":
        idat.push(body);
        break;
      case "IEND":
        ended = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) carry nothing the pixels need; PLTE is optional for
        // colour types 2 and 6 (a suggested palette). Any other critical chunk changes the meaning: refuse.
        if (type !== "PLTE" && (type.charCodeAt(0) & 0x20) === 0) {
          throw new Error(`unsupported PNG: unknown critical chunk ${type}`);
        }
    }
  }
  if (!header) throw new Error("corrupt PNG (no IHDR)");
  if (idat.length === 0) throw new Error("corrupt PNG (no IDAT)");
  const { width, height, channels } = header;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(`corrupt PNG (image data is ${raw.length} bytes, expected ${height * (stride + 1)})`);
  }
  const out = new Uint8Array(height * stride);
  const bpp = channels;
  for (let y = 0; y < height; y++) {
    const ftype = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride; // only read when y > 0
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? out[row + i - bpp]! : 0;
      const b = y > 0 ? out[prev + i]! : 0;
      const c = i >= bpp && y > 0 ? out[prev + i - bpp]! : 0;
      let pred: number;
      switch (ftype) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) >> 1;
          break;
        case 4:
          pred = paeth(a, b, c);
          break;
        default:
          throw new Error(`corrupt PNG (row ${y} has filter type ${ftype})`);
      }
      out[row + i] = (x + pred) & 0xff;
    }
  }
  return { width, height, channels, data: out };
}

/** Pillow's `convert("RGB")`: gray is replicated, alpha dropped (not composited). */
export function pngToRgb(png: DecodedPng): RGBImage {
  const n = png.width * png.height;
  const out = new Uint8Array(n * 3);
  const d = png.data;
  const ch = png.channels;
  for (let i = 0; i < n; i++) {
    const s = i * ch;
    if (ch <= 2) {
      const g = d[s]!;
      out[i * 3] = g;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = g;
    } else {
      out[i * 3] = d[s]!;
      out[i * 3 + 1] = d[s + 1]!;
      out[i * 3 + 2] = d[s + 2]!;
    }
  }
  return { width: png.width, height: png.height, data: out };
}
