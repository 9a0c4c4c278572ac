// Decoding an image the user gives us, in this page only. The browser decodes the file (lossless for PNG);
// resizing is ours (worker/preprocess.ts), so the pixels the model sees match the Python index's.

export const MAX_PIXELS = 40_000_000;

export interface DecodedImage {
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
}

export async function decodeUpload(file: File): Promise<DecodedImage> {
  if (file.size === 0) throw new Error(`${file.name}: the file is empty`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw new Error(`${file.name}: not an image this browser can decode (corrupt, truncated or another file type)`);
  }
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) {
    bitmap.close();
    throw new Error(
      `${file.name}: ${width} x ${height} pixels is too large to process in the browser (limit ${MAX_PIXELS / 1e6} megapixels); downscale it first`,
    );
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new Error("this browser cannot read image pixels (no 2D canvas)");
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}
