// Which images the browser decodes: the same size rule as the Python pipeline (medmir.imaging.decode.size_problem),
// with the numbers of src/medmir/resources/image_limits.json (test/upload.test.ts pins them equal). Checked from the
// file's header, before any pixel is decoded: a 118-byte PNG can claim 40000 x 1 pixels, and the model's shorter-side
// resize would make that 224 x 8,960,000 (6 GB).

/** Each side at most this many pixels. */
export const MAX_SIDE = 20_000;
/** The longer side at most this many times the shorter: bounds the model resize to S x 20*S. */
export const MAX_ASPECT = 20;
/** The browser's own pixel cap, 10x below Python's MAX_SIDE^2: decoding holds ~4 copies (bitmap, canvas, RGBA, RGB). */
export const MAX_PIXELS = 40_000_000;

const fmt = (n: number) => n.toLocaleString("en-US");

/** Why a width x height image is refused, or null; same text as Python's `size_problem` for the shared rules. */
export function sizeProblem(width: number, height: number): string | null {
  if (!(width > 0 && height > 0)) return `image has no pixels (${width}x${height})`;
  const long = Math.max(width, height);
  const short = Math.min(width, height);
  if (long > MAX_SIDE) return `image too large: ${width}x${height}; each side may be at most ${fmt(MAX_SIDE)} pixels`;
  if (long > MAX_ASPECT * short) {
    return `image too elongated: ${width}x${height}; the longer side may be at most ${MAX_ASPECT} times the shorter`;
  }
  if (width * height > MAX_PIXELS) {
    return (
      `image too large for the browser: ${width}x${height} = ${fmt(width * height)} pixels, the browser's limit is ` +
      `${fmt(MAX_PIXELS)} (${MAX_PIXELS / 1e6} megapixels); downscale it first`
    );
  }
  return null;
}

export interface Size {
  width: number;
  height: number;
}

/**
 * The pixel size a PNG, JPEG, GIF, WebP or BMP header declares, or null (another format, or a header cut short
 * within `bytes`). What the decoder will allocate follows from it; no pixel data is read.
 */
export function headerSize(bytes: Uint8Array): Size | null {
  const b = bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const has = (n: number) => b.length >= n;
  const ascii = (at: number, s: string) => has(at + s.length) && [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  // PNG: signature, then IHDR (big-endian width, height)
  if (ascii(1, "PNG\r\n\x1a\n") && b[0] === 0x89 && ascii(12, "IHDR") && has(24)) {
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  // GIF: the logical screen, grown to the first frame (decoders enlarge the canvas for frames that overflow it)
  if (ascii(0, "GIF8") && has(13)) return gifSize(b, dv);
  // WebP: RIFF container, first chunk VP8 (lossy), VP8L (lossless) or VP8X (extended: canvas size)
  if (ascii(0, "RIFF") && ascii(8, "WEBP") && has(30)) {
    if (ascii(12, "VP8 ")) return { width: dv.getUint16(26, true) & 0x3fff, height: dv.getUint16(28, true) & 0x3fff };
    if (ascii(12, "VP8L")) {
      const v = dv.getUint32(21, true);
      return { width: (v & 0x3fff) + 1, height: ((v >>> 14) & 0x3fff) + 1 };
    }
    if (ascii(12, "VP8X")) {
      const u24 = (at: number) => b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
      return { width: u24(24) + 1, height: u24(27) + 1 };
    }
    return null;
  }
  // BMP: BITMAPCOREHEADER (12 bytes, uint16 sizes) or a later header (int32; negative height = top-down rows)
  if (ascii(0, "BM") && has(26)) {
    if (dv.getUint32(14, true) === 12) return { width: dv.getUint16(18, true), height: dv.getUint16(20, true) };
    return { width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) };
  }
  if (b[0] === 0xff && b[1] === 0xd8) return jpegSize(b, dv);
  return null;
}

/** The first SOFn segment's size; segments before it (EXIF, ICC profiles) are skipped by their lengths. */
function jpegSize(b: Uint8Array, dv: DataView): Size | null {
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      p += 2; // no length
      continue;
    }
    const len = dv.getUint16(p + 2);
    // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (p + 9 > b.length) return null;
      const height = dv.getUint16(p + 5);
      // height 0: defined later by a DNL segment; leave it to the fallback
      return height === 0 ? null : { width: dv.getUint16(p + 7), height };
    }
    if (marker === 0xd9 || marker === 0xda || len < 2) return null; // end of image / scan data before any SOF
    p += 2 + len;
  }
  return null;
}

function gifSize(b: Uint8Array, dv: DataView): Size | null {
  let width = dv.getUint16(6, true);
  let height = dv.getUint16(8, true);
  let p = 13 + (b[10]! & 0x80 ? 3 << ((b[10]! & 7) + 1) : 0); // global colour table
  while (p < b.length) {
    const kind = b[p]!;
    if (kind === 0x2c) {
      if (p + 9 > b.length) return null;
      width = Math.max(width, dv.getUint16(p + 1, true) + dv.getUint16(p + 5, true));
      height = Math.max(height, dv.getUint16(p + 3, true) + dv.getUint16(p + 7, true));
      return { width, height };
    }
    if (kind !== 0x21) return kind === 0x3b ? { width, height } : null; // trailer: no frame at all
    p += 2; // extension introducer + label, then sub-blocks up to a zero length
    while (p < b.length && b[p] !== 0) p += b[p]! + 1;
    p++;
  }
  return null;
}
