// A dropped DICOM file -> the same DecodedImage (RGBA) as any other upload, by docs/DICOM.md's rule, in this page:
// the file's bytes are read here and go nowhere. Loaded lazily by lib/image/upload.ts (only when a DICOM is dropped).

import type { DataSet } from "dicom-parser";

import type { DecodedImage } from "../decodedImage";
import { decodeCodestream } from "./codecs";
import { codestreamSize } from "./codestream";
import { colourRgba } from "./colour";
import { encapsulatedFrame, interleave, nativeFrame, type RawSamples } from "./frames";
import { grayBytes, grayRule } from "./gray";
import { readImageHeader, type ImageHeader } from "./header";
import { parseDicomBytes, reasonOf } from "./parse";
import { decodeRle } from "./rle";
import { syntaxLabel } from "./syntaxes";

export { isDicomFile } from "./detect";

/** The stored value of a raw sample: its low `bits` bits, sign-extended from bit bits - 1 when `signed`. */
export function storedValue(raw: number, bits: number, signed: boolean): number {
  if (bits < 1 || bits > 32) return raw;
  if (signed) return bits === 32 ? raw | 0 : (raw << (32 - bits)) >> (32 - bits);
  return bits === 32 ? raw >>> 0 : raw & (2 ** bits - 1);
}

/** Stored values of a frame's raw samples (in place where the type allows). */
function storedValues(raw: RawSamples, h: ImageHeader): Int32Array | Uint32Array {
  const { bitsStored: bits, signed } = h;
  if (!signed && bits >= 32) return raw;
  const out = new Int32Array(raw.buffer, raw.byteOffset, raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = storedValue(raw[i]!, bits, signed);
  return out;
}

/** The raw samples of frame `index`. */
async function frameSamples(ds: DataSet, h: ImageHeader, index: number, fileName: string): Promise<RawSamples> {
  if (h.codec === "native") return nativeFrame(ds, h, index, fileName);
  const data = encapsulatedFrame(ds, h, index, fileName);
  const pixels = h.rows * h.columns;
  if (h.codec === "rle") return decodeRle(data, pixels, h.samplesPerPixel, h.bitsAllocated);
  const declared = codestreamSize(data);
  if (declared && (declared.width !== h.columns || declared.height !== h.rows)) {
    throw new Error(`the codestream is ${declared.width}x${declared.height}, the header says ${h.columns}x${h.rows}`);
  }
  const out = await decodeCodestream(h.codec, data, h.bitsAllocated);
  if (out.width !== h.columns || out.height !== h.rows || out.components !== h.samplesPerPixel) {
    throw new Error(
      `decoded ${out.width}x${out.height} with ${out.components} samples per pixel, the header says ` +
        `${h.columns}x${h.rows} with ${h.samplesPerPixel}`,
    );
  }
  // bit patterns as stored (a signed decoder's -1 is 0xffff), for the BitsStored rule
  const mask = out.samples instanceof Int16Array ? 0xffff : 0xffffffff;
  const raw = out.planar ? interleave(out.samples, pixels, out.components) : Uint32Array.from(out.samples);
  if (mask !== 0xffffffff) for (let i = 0; i < raw.length; i++) raw[i] = raw[i]! & mask;
  return raw;
}

/** Decode a DICOM file's middle frame to RGBA. Errors name the file (and the transfer syntax when it matters). */
export async function decodeDicomBytes(bytes: Uint8Array, fileName: string): Promise<DecodedImage> {
  const { ds, syntax } = await parseDicomBytes(bytes, fileName);
  const h = readImageHeader(ds, syntax, fileName);
  const index = Math.floor(h.frames / 2);
  let raw: RawSamples;
  try {
    raw = await frameSamples(ds, h, index, fileName);
  } catch (e) {
    const reason = reasonOf(e);
    if (reason.startsWith(`${fileName}: `)) throw e;
    throw new Error(`${fileName}: cannot decode the pixel data (${syntaxLabel(syntax)}): ${reason}`);
  }
  const stored = storedValues(raw, h);
  const { rows: height, columns: width } = h;
  if (h.colour) {
    // every decoder here hands over the components as stored (YBR_RCT / YBR_ICT: OpenJPEG has undone them)
    const ybr = h.photometric === "YBR_FULL" || h.photometric === "YBR_FULL_422";
    if (ybr && h.bitsStored > 8) throw new Error(`${fileName}: ${h.photometric} with ${h.bitsStored}-bit samples is not supported`);
    return { rgba: colourRgba(stored, h.bitsStored, ybr), width, height };
  }
  const gray = grayBytes(stored, grayRule(ds, h.signed, h.photometric));
  const rgba = new Uint8ClampedArray(gray.length * 4);
  for (let i = 0, o = 0; i < gray.length; i++, o += 4) {
    rgba[o] = rgba[o + 1] = rgba[o + 2] = gray[i]!;
    rgba[o + 3] = 255;
  }
  return { rgba, width, height };
}

export async function decodeDicom(file: File): Promise<DecodedImage> {
  return decodeDicomBytes(new Uint8Array(await file.arrayBuffer()), file.name);
}
