// Colour frames -> 8-bit RGB (docs/DICOM.md step 3): RGB kept, YBR_FULL(_422) converted with the formulas of the
// document (unless the decoder already did), samples over 8 bits scaled to 0..255; no windowing.

/** YCbCr (full range) -> RGB, each rounded half up and clipped to 0..255. */
export function ybrToRgb(y: number, cb: number, cr: number): [number, number, number] {
  return [
    byte(y + 1.402 * (cr - 128)),
    byte(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
    byte(y + 1.772 * (cb - 128)),
  ];
}

const byte = (x: number) => Math.min(255, Math.max(0, Math.floor(x + 0.5)));

/** `round(v * 255 / (2^bits - 1))`, clipped: a sample of `bits` bits on the 8-bit scale. */
export const scaleSample = (v: number, bits: number): number => byte((v * 255) / (2 ** bits - 1));

/** RGBA of pixel-interleaved 3-sample values. */
export function colourRgba(samples: Int32Array | Uint32Array, bitsStored: number, ybr: boolean): Uint8ClampedArray {
  const pixels = samples.length / 3;
  const out = new Uint8ClampedArray(pixels * 4);
  const scale = bitsStored > 8;
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 3, o += 4) {
    let r = samples[i]!;
    let g = samples[i + 1]!;
    let b = samples[i + 2]!;
    if (ybr) [r, g, b] = ybrToRgb(r, g, b);
    else if (scale) [r, g, b] = [scaleSample(r, bitsStored), scaleSample(g, bitsStored), scaleSample(b, bitsStored)];
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = b;
    out[o + 3] = 255;
  }
  return out;
}
