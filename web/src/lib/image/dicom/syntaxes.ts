// The transfer syntaxes of docs/DICOM.md: which the browser decodes, and with what. The names are those of
// src/medmir/imaging/dicom.py (TRANSFER_SYNTAXES), so both sides name a refused file's syntax alike; .51 reads
// "JPEG Extended, 12-bit" to avoid nested parentheses in "UID (name)".

/** How a frame's bytes become samples: as stored, or through one of the (lazily loaded) decoders. */
export type Codec = "native" | "rle" | "jpeg" | "jpegLossless" | "jpegLs" | "jpeg2000";

export interface TransferSyntax {
  name: string;
  /** null: Python decodes it, the browser cannot */
  codec: Codec | null;
}

export const IMPLICIT_LITTLE = "1.2.840.10008.1.2";
export const EXPLICIT_LITTLE = "1.2.840.10008.1.2.1";
export const DEFLATED = "1.2.840.10008.1.2.1.99";
export const EXPLICIT_BIG = "1.2.840.10008.1.2.2";

export const TRANSFER_SYNTAXES: Readonly<Record<string, TransferSyntax>> = {
  [IMPLICIT_LITTLE]: { name: "Implicit VR Little Endian", codec: "native" },
  [EXPLICIT_LITTLE]: { name: "Explicit VR Little Endian", codec: "native" },
  [DEFLATED]: { name: "Deflated Explicit VR Little Endian", codec: "native" },
  [EXPLICIT_BIG]: { name: "Explicit VR Big Endian", codec: "native" },
  "1.2.840.10008.1.2.4.50": { name: "JPEG Baseline (8-bit)", codec: "jpeg" },
  // 12-bit DCT: no maintained WASM decoder handles it (libjpeg-turbo's build here is 8-bit only)
  "1.2.840.10008.1.2.4.51": { name: "JPEG Extended, 12-bit", codec: null },
  "1.2.840.10008.1.2.4.57": { name: "JPEG Lossless", codec: "jpegLossless" },
  "1.2.840.10008.1.2.4.70": { name: "JPEG Lossless, First-Order Prediction (SV1)", codec: "jpegLossless" },
  "1.2.840.10008.1.2.4.80": { name: "JPEG-LS Lossless", codec: "jpegLs" },
  "1.2.840.10008.1.2.4.81": { name: "JPEG-LS Near-Lossless", codec: "jpegLs" },
  "1.2.840.10008.1.2.4.90": { name: "JPEG 2000 Lossless", codec: "jpeg2000" },
  "1.2.840.10008.1.2.4.91": { name: "JPEG 2000", codec: "jpeg2000" },
  "1.2.840.10008.1.2.5": { name: "RLE Lossless", codec: "rle" },
};

// Syntaxes neither side decodes, named so the refusal says what the file is.
const OTHER_NAMES: Readonly<Record<string, string>> = {
  "1.2.840.10008.1.2.1.98": "Encapsulated Uncompressed Explicit VR Little Endian",
  "1.2.840.10008.1.2.4.92": "JPEG 2000 Part 2 Multi-component Lossless",
  "1.2.840.10008.1.2.4.93": "JPEG 2000 Part 2 Multi-component",
  "1.2.840.10008.1.2.4.94": "JPIP Referenced",
  "1.2.840.10008.1.2.4.95": "JPIP Referenced Deflate",
  "1.2.840.10008.1.2.4.100": "MPEG2 Main Profile / Main Level",
  "1.2.840.10008.1.2.4.101": "MPEG2 Main Profile / High Level",
  "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264 High Profile / Level 4.1",
  "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1",
  "1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video",
  "1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video",
  "1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2",
  "1.2.840.10008.1.2.4.107": "HEVC/H.265 Main Profile / Level 5.1",
  "1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10 Profile / Level 5.1",
  "1.2.840.10008.1.2.4.110": "JPEG XL Lossless",
  "1.2.840.10008.1.2.4.111": "JPEG XL JPEG Recompression",
  "1.2.840.10008.1.2.4.112": "JPEG XL",
  "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 with RPCL Options Lossless",
  "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
  "1.2.840.10008.1.2.4.52": "JPEG Extended, Process 3 & 5 (retired)",
  "1.2.840.10008.1.2.4.53": "JPEG Spectral Selection, Non-Hierarchical, Process 6 & 8 (retired)",
  "1.2.840.10008.1.2.4.55": "JPEG Full Progression, Non-Hierarchical, Process 10 & 12 (retired)",
};

/** "UID (name)", as in the error messages of both sides. */
export function syntaxLabel(uid: string): string {
  return `${uid} (${TRANSFER_SYNTAXES[uid]?.name ?? OTHER_NAMES[uid] ?? "unknown"})`;
}

/** The codec for `uid`, or an Error (naming the file and the syntax) when the browser cannot decode it. */
export function codecFor(uid: string, fileName: string): Codec {
  const codec = TRANSFER_SYNTAXES[uid]?.codec;
  if (codec) return codec;
  const python = uid in TRANSFER_SYNTAXES ? "`medmir search --image` (Python) decodes it" : "medmir does not decode it";
  throw new Error(
    `${fileName}: transfer syntax ${syntaxLabel(uid)} cannot be decoded in the browser; ${python}, or convert the ` +
      "file to an uncompressed or lossless syntax (e.g. dcmdjpeg from DCMTK, or gdcmconv --raw)",
  );
}
