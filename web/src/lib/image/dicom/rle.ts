// RLE Lossless (DICOM PS3.5 Annex G), small enough to write rather than load: a 64-byte header (the number of
// segments, then up to 15 segment offsets, uint32 little endian), then one PackBits-coded segment per byte of
// each sample, most significant byte first: 16-bit RGB is R-high, R-low, G-high, G-low, B-high, B-low.

import type { RawSamples } from "./frames";

/** Decode one PackBits segment (G.3.1) into `out` (exactly out.length bytes, or an error). */
export function unpackBits(seg: Uint8Array, out: Uint8Array): void {
  let i = 0;
  let o = 0;
  while (o < out.length) {
    if (i >= seg.length) throw new Error(`RLE segment ends after ${o} of ${out.length} bytes`);
    const n = seg[i++]!;
    if (n < 128) {
      // n + 1 literal bytes
      const len = n + 1;
      if (i + len > seg.length || o + len > out.length) throw new Error("RLE literal run past the end of its segment");
      out.set(seg.subarray(i, i + len), o);
      i += len;
      o += len;
    } else if (n > 128) {
      // the next byte, 257 - n times
      const len = 257 - n;
      if (i >= seg.length || o + len > out.length) throw new Error("RLE replicate run past the end of its segment");
      out.fill(seg[i++]!, o, o + len);
      o += len;
    } // 128 (-128): no operation
  }
}

/** A frame's raw samples, pixel-interleaved, from its RLE codestream. */
export function decodeRle(frame: Uint8Array, pixels: number, samplesPerPixel: number, bitsAllocated: number): RawSamples {
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw new Error(`RLE Lossless with BitsAllocated ${bitsAllocated} is not supported (8, 16 or 32)`);
  }
  const bytesPerSample = bitsAllocated / 8;
  const wanted = samplesPerPixel * bytesPerSample;
  if (frame.length < 64) throw new Error("RLE header cut short");
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const count = dv.getUint32(0, true);
  if (count !== wanted) throw new Error(`RLE frame has ${count} segments, ${wanted} expected`);
  const offsets = Array.from({ length: count }, (_, i) => dv.getUint32(4 + 4 * i, true));
  const out = new Uint32Array(pixels * samplesPerPixel);
  const plane = new Uint8Array(pixels);
  for (let k = 0; k < count; k++) {
    const start = offsets[k]!;
    const end = k + 1 < count ? offsets[k + 1]! : frame.length;
    if (start < 64 || end > frame.length || end < start) throw new Error(`RLE segment ${k + 1} lies outside the frame`);
    unpackBits(frame.subarray(start, end), plane);
    const sample = Math.floor(k / bytesPerSample);
    const shift = 8 * (bytesPerSample - 1 - (k % bytesPerSample)); // first segment: most significant byte
    for (let p = 0; p < pixels; p++) out[p * samplesPerPixel + sample]! += plane[p]! * 2 ** shift;
  }
  return out;
}
