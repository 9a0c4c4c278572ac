// Which dropped files are DICOM: by name (.dcm, .dicom, as src/medmir/imaging/dicom.py `is_dicom`), by MIME type, or by
// the "DICM" magic after the 128-byte preamble (files from PACS exports often have no extension at all).

export const PREAMBLE = 128;
export const MAGIC_END = PREAMBLE + 4;

/** true when the bytes carry the Part 10 preamble + "DICM" (needs the first 132 bytes). */
export function hasDicomMagic(head: Uint8Array): boolean {
  return (
    head.length >= MAGIC_END &&
    head[PREAMBLE] === 0x44 && // D
    head[PREAMBLE + 1] === 0x49 && // I
    head[PREAMBLE + 2] === 0x43 && // C
    head[PREAMBLE + 3] === 0x4d // M
  );
}

/** A DICOM file by its name or type alone (no bytes read). */
export function namedDicom(name: string, type = ""): boolean {
  return /\.(dcm|dicom)$/i.test(name) || type === "application/dicom";
}

/** A DICOM file: by name or type, else by the magic in its first 132 bytes. */
export async function isDicomFile(file: Blob & { name: string }): Promise<boolean> {
  if (namedDicom(file.name, file.type)) return true;
  if (file.size < MAGIC_END) return false;
  return hasDicomMagic(new Uint8Array(await file.slice(0, MAGIC_END).arrayBuffer()));
}
