// One frame out of the PixelData element: native samples (any byte order, 1 to 32 bits, planar or interleaved,
// YBR_FULL_422's shared chroma), or an encapsulated frame's codestream (PS3.5 A.4) gathered from its fragments.

import type { DataSet, Element, Fragment } from "dicom-parser";

import type { ImageHeader } from "./header";

/** Raw samples of one frame, pixel-interleaved (R, G, B, R, ...), each the unsigned bit pattern as stored. */
export type RawSamples = Uint32Array;

const truncated = (fileName: string, what: string) =>
  new Error(`${fileName}: truncated DICOM file (the pixel data ends before ${what})`);

/** Native (uncompressed) samples of frame `index`. */
export function nativeFrame(ds: DataSet, h: ImageHeader, index: number, fileName: string): RawSamples {
  const pd = ds.elements.x7fe00010!;
  const bytes = ds.byteArray;
  if (pd.dataOffset + pd.length > bytes.length) throw truncated(fileName, "its declared length");
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset + pd.dataOffset, pd.length);
  const pixels = h.rows * h.columns;
  // YBR_FULL_422 stores Y Y Cb Cr per two pixels: 2 samples per pixel in the file, 3 after expansion
  const half = h.photometric === "YBR_FULL_422";
  if (half && (h.bitsAllocated !== 8 || h.columns % 2)) {
    throw new Error(`${fileName}: uncompressed YBR_FULL_422 needs 8-bit samples and an even number of columns`);
  }
  const count = pixels * (half ? 2 : h.samplesPerPixel);
  const first = index * count; // in samples
  const end = ((first + count) * h.bitsAllocated) / 8;
  if (Math.ceil(end) > data.length) throw truncated(fileName, `frame ${index + 1} of ${h.frames}`);
  const raw = new Uint32Array(count);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = !h.bigEndian;
  switch (h.bitsAllocated) {
    case 1: // packed, least significant bit first (PS3.5 8.1.1); frames need not start on a byte
      for (let i = 0; i < count; i++) {
        const bit = first + i;
        raw[i] = (data[bit >> 3]! >> (bit & 7)) & 1;
      }
      break;
    case 8: {
      // big endian 8-bit samples in an OW element are byte-swapped in 16-bit words (as pydicom reads them)
      const swap = h.bigEndian && pd.vr === "OW" ? 1 : 0;
      for (let i = 0; i < count; i++) raw[i] = data[(first + i) ^ swap]!;
      break;
    }
    case 16:
      for (let i = 0; i < count; i++) raw[i] = dv.getUint16((first + i) * 2, little);
      break;
    case 32:
      for (let i = 0; i < count; i++) raw[i] = dv.getUint32((first + i) * 4, little);
      break;
  }
  if (half) return expand422(raw, pixels);
  return h.planar ? interleave(raw, pixels, h.samplesPerPixel) : raw;
}

/** Y0 Y1 Cb Cr -> Y0 Cb Cr Y1 Cb Cr (each chroma pair shared by two pixels). */
function expand422(raw: RawSamples, pixels: number): RawSamples {
  const out = new Uint32Array(pixels * 3);
  for (let p = 0; p < pixels; p += 2) {
    const s = p * 2;
    const o = p * 3;
    out[o] = raw[s]!;
    out[o + 1] = out[o + 4] = raw[s + 2]!;
    out[o + 2] = out[o + 5] = raw[s + 3]!;
    out[o + 3] = raw[s + 1]!;
  }
  return out;
}

/** Planes (all of sample 0, then all of sample 1, ...) -> pixel-interleaved. */
export function interleave(planes: ArrayLike<number>, pixels: number, spp: number): RawSamples {
  const out = new Uint32Array(pixels * spp);
  for (let s = 0; s < spp; s++) {
    const base = s * pixels;
    for (let p = 0; p < pixels; p++) out[p * spp + s] = planes[base + p]!;
  }
  return out;
}

// Codestream starts: JPEG (SOI, any process, also JPEG-LS), JPEG 2000 codestream (SOC + SIZ) and JP2 box signature
const STARTS = [
  [0xff, 0xd8, 0xff],
  [0xff, 0x4f, 0xff, 0x51],
  [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20],
];

function startsCodestream(bytes: Uint8Array, at: number): boolean {
  return STARTS.some((sig) => sig.every((b, i) => bytes[at + i] === b));
}

/** Each frame's offset (as in the Basic Offset Table: from the first fragment's item tag). */
function frameOffsets(ds: DataSet, pd: Element, fragments: Fragment[], frames: number, fileName: string): number[] {
  const bot = pd.basicOffsetTable ?? [];
  if (bot.length === frames) return bot;
  const eot = ds.elements.x7fe00001; // Extended Offset Table: uint64 offsets, used when the BOT is empty
  if (eot && eot.length === frames * 8) {
    const dv = new DataView(ds.byteArray.buffer, ds.byteArray.byteOffset + eot.dataOffset, eot.length);
    return Array.from({ length: frames }, (_, i) => Number(dv.getBigUint64(i * 8, true)));
  }
  if (frames === 1) return [0];
  if (fragments.length === frames) return fragments.map((f) => f.offset);
  // no table: a frame begins at each fragment that begins a codestream
  const starts = fragments.filter((f) => startsCodestream(ds.byteArray, f.position)).map((f) => f.offset);
  if (starts.length === frames) return starts;
  throw new Error(
    `${fileName}: cannot tell the ${frames} frames apart in the pixel data (${fragments.length} fragments, no offset table)`,
  );
}

/**
 * The items of an undefined-length PixelData element that dicom-parser did not split (a data set in implicit VR
 * under a compressed syntax): the Basic Offset Table, then the fragments, up to the sequence delimiter.
 */
function readItems(bytes: Uint8Array, start: number): { bot: number[]; fragments: Fragment[] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bot: number[] = [];
  const fragments: Fragment[] = [];
  let p = start;
  let first = -1;
  while (p + 8 <= bytes.length && dv.getUint16(p, true) === 0xfffe && dv.getUint16(p + 2, true) === 0xe000) {
    const length = dv.getUint32(p + 4, true);
    if (first < 0) {
      for (let i = 0; i + 4 <= length && p + 8 + i + 4 <= bytes.length; i += 4) bot.push(dv.getUint32(p + 8 + i, true));
      first = p + 8 + length;
    } else {
      fragments.push({ offset: p - first, position: p + 8, length });
    }
    p += 8 + length;
  }
  return { bot, fragments };
}

/** The codestream of encapsulated frame `index`: its fragments, concatenated. */
export function encapsulatedFrame(ds: DataSet, h: ImageHeader, index: number, fileName: string): Uint8Array {
  let pd = ds.elements.x7fe00010!;
  const bytes = ds.byteArray;
  if (!pd.encapsulatedPixelData && pd.hadUndefinedLength) {
    const { bot, fragments } = readItems(bytes, pd.dataOffset);
    pd = { ...pd, encapsulatedPixelData: true, basicOffsetTable: bot, fragments };
  }
  const fragments = pd.fragments ?? [];
  if (!pd.encapsulatedPixelData || fragments.length === 0) {
    throw new Error(`${fileName}: the transfer syntax is compressed but the pixel data is not encapsulated`);
  }
  for (const f of fragments) if (f.position + f.length > bytes.length) throw truncated(fileName, "its last fragment");
  const offsets = frameOffsets(ds, pd, fragments, h.frames, fileName);
  const from = offsets[index]!;
  const to = index + 1 < offsets.length ? offsets[index + 1]! : Infinity;
  const parts = fragments.filter((f) => f.offset >= from && f.offset < to);
  if (parts.length === 0) throw new Error(`${fileName}: frame ${index + 1} has no fragments`);
  const out = new Uint8Array(parts.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of parts) {
    out.set(bytes.subarray(f.position, f.position + f.length), at);
    at += f.length;
  }
  return out;
}
