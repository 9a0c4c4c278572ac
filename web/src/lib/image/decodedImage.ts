// What every decoder of an upload hands on (the browser's for PNG and JPEG, dicom/ for DICOM): RGBA pixels. A leaf,
// so the upload path and the DICOM decoder it loads lazily need not import each other.

export interface DecodedImage {
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
}
