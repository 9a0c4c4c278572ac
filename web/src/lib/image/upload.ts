// Decoding an image the user gives us, in this page only. The browser decodes the file (lossless for PNG);
// resizing is ours (worker/model/preprocess.ts), so the pixels the model sees match the Python index's. DICOM files are
// decoded by dicom/ (docs/DICOM.md), loaded only when one is given.

import type { DecodedImage } from "./decodedImage";
import { isDicomFile } from "./dicom/detect";
import { headerSize, sizeProblem, type Size } from "./imageLimits";

// JPEG headers can sit behind EXIF and ICC segments; 1 MiB holds them in practice (else the fallback measures).
const HEAD_BYTES = 1 << 20;

/** The declared size, from the header, or from an <img> (which reads the header and decodes only when painted). */
export async function declaredSize(file: Blob): Promise<Size | null> {
  const head = headerSize(new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer()));
  if (head || typeof Image === "undefined") return head;
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    const loaded = new Promise<boolean>((resolve) => {
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
    });
    img.src = url;
    return (await loaded) ? { width: img.naturalWidth, height: img.naturalHeight } : null;
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Refuse what the size rule refuses (`sizeProblem`) before decoding, then decode to RGBA. */
export async function decodeUpload(file: File): Promise<DecodedImage> {
  if (file.size === 0) throw new Error(`${file.name}: the file is empty`);
  if (await isDicomFile(file)) {
    const { decodeDicom } = await import("./dicom");
    return decodeDicom(file);
  }
  const undecodable = () =>
    new Error(`${file.name}: not an image this browser can decode (corrupt, truncated or another file type)`);
  const declared = await declaredSize(file);
  if (!declared) throw undecodable();
  const before = sizeProblem(declared.width, declared.height);
  if (before) throw new Error(`${file.name}: ${before}`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  } catch {
    throw undecodable();
  }
  const { width, height } = bitmap;
  // the header could understate what the decoder made (e.g. a GIF frame beyond the first): check again
  const after = sizeProblem(width, height);
  if (after) {
    bitmap.close();
    throw new Error(`${file.name}: ${after}`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new Error("this browser cannot read image pixels (no 2D canvas)");
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}

/** A URL the page can show for the upload: the file itself, or (a DICOM, which no <img> shows) its decoded pixels. */
export async function previewUrl(file: File, img: DecodedImage): Promise<string> {
  if (!(await isDicomFile(file)) || typeof OffscreenCanvas === "undefined") return URL.createObjectURL(file);
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext("2d");
  if (!ctx) return URL.createObjectURL(file);
  ctx.putImageData(new ImageData(new Uint8ClampedArray(img.rgba), img.width, img.height), 0, 0);
  return URL.createObjectURL(await canvas.convertToBlob({ type: "image/png" }));
}
