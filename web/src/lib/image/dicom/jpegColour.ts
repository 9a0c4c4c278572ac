// JPEG Baseline colour: DICOM's PhotometricInterpretation, not the JPEG's own markers, says whether the three
// components are RGB or YCbCr (pydicom decodes them as stored and converts by PhotometricInterpretation).
// libjpeg-turbo guesses from JFIF / Adobe markers and component IDs and converts YCbCr itself; an Adobe APP14
// segment with transform 0 (and no JFIF segment, which would win) makes it hand over the components as stored,
// and the YBR formula of docs/DICOM.md then runs here when the header says YBR.

const SOI = 0xd8;
const APP0 = 0xe0;
const APP14 = 0xee;
const SOS = 0xda;

// FF EE, length 14, "Adobe", version 100, flags0 0, flags1 0, transform 0 (components as stored)
const ADOBE_AS_STORED = new Uint8Array([
  0xff, APP14, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
]);

const startsWith = (b: Uint8Array, at: number, text: string) =>
  [...text].every((c, i) => b[at + i] === c.charCodeAt(0));

/** The codestream with its JFIF and Adobe segments replaced by one Adobe "as stored" segment. */
export function asStoredComponents(jpeg: Uint8Array): Uint8Array {
  if (jpeg[0] !== 0xff || jpeg[1] !== SOI) return jpeg;
  const kept: Uint8Array[] = [jpeg.subarray(0, 2), ADOBE_AS_STORED];
  let p = 2;
  while (p + 4 <= jpeg.length && jpeg[p] === 0xff) {
    const marker = jpeg[p + 1]!;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === SOS) break; // the scan: entropy-coded data follows, kept as is
    const end = p + 2 + ((jpeg[p + 2]! << 8) | jpeg[p + 3]!);
    const jfif = marker === APP0 && startsWith(jpeg, p + 4, "JFIF\0");
    const adobe = marker === APP14 && startsWith(jpeg, p + 4, "Adobe");
    if (!jfif && !adobe) kept.push(jpeg.subarray(p, end));
    p = end;
  }
  kept.push(jpeg.subarray(p));
  const out = new Uint8Array(kept.reduce((n, k) => n + k.length, 0));
  let at = 0;
  for (const k of kept) {
    out.set(k, at);
    at += k.length;
  }
  return out;
}
