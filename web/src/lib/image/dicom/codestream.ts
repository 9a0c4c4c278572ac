// The size a frame's codestream declares, read before decoding: a codestream larger than Rows x Columns (which the
// size rule has passed) would make the decoder allocate for it, so it is refused instead.

import type { Size } from "../imageLimits";

/** From a JPEG SOFn (any process; also JPEG-LS's SOF55) or a JPEG 2000 codestream's SIZ; null when not found. */
export function codestreamSize(b: Uint8Array): Size | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51 && b.length >= 24) {
    // SIZ: Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz (image area = [XOsiz, Xsiz) x [YOsiz, Ysiz))
    return { width: dv.getUint32(8) - dv.getUint32(16), height: dv.getUint32(12) - dv.getUint32(20) };
  }
  if (b[0] !== 0xff || b[1] !== 0xd8) return null; // a JP2 file (boxes) or something else: the decoder checks it
  let p = 2;
  while (p + 4 <= b.length && b[p] === 0xff) {
    const marker = b[p + 1]!;
    if (marker === 0xff) {
      p++;
      continue;
    }
    const sof = (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7;
    if (sof) {
      if (p + 9 > b.length) return null;
      const height = dv.getUint16(p + 5);
      return height === 0 ? null : { width: dv.getUint16(p + 7), height }; // 0: set later by a DNL segment
    }
    if (marker === 0xda || marker === 0xd9) return null;
    p += 2 + dv.getUint16(p + 2);
  }
  return null;
}
