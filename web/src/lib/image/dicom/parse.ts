// Bytes -> dicom-parser DataSet + transfer syntax. dicom-parser reads the Part 10 header and the data set in every
// byte order; deflated data sets are inflated here first (DecompressionStream, no library), since its own inflater
// needs zlib (Node) or a global pako.

import dicomParser, { type DataSet, type ParseDicomOptions } from "dicom-parser";

import { hasDicomMagic, MAGIC_END } from "./detect";
import { DEFLATED, EXPLICIT_LITTLE, IMPLICIT_LITTLE } from "./syntaxes";

export interface Parsed {
  ds: DataSet;
  /** the Transfer Syntax UID, Implicit VR Little Endian when the file has no meta header (PS3.5 A.1) */
  syntax: string;
}

/** dicom-parser throws strings, Errors and {exception, dataSet} objects: the reason, as text. */
export function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (e && typeof e === "object" && "exception" in e) return reasonOf((e as { exception: unknown }).exception);
  return String(e);
}

// dicom-parser's words for "an element runs past the end of the bytes"
const CUT_SHORT = /overrun|overread|beyond|past the end|end of (the )?(buffer|stream)|maxPosition|truncat|eof/i;

function parseError(fileName: string, e: unknown): Error {
  const reason = reasonOf(e).replace(/^dicomParser[.:]\w+:\s*/, "");
  if (CUT_SHORT.test(reason)) return new Error(`${fileName}: truncated DICOM file (an element runs past its end: ${reason})`);
  return new Error(`${fileName}: truncated or corrupt DICOM file (${reason})`);
}

const VRS = new Set(
  "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split(" "),
);

/** A data set without a meta header: explicit VR when the bytes after the first tag spell a VR, else implicit. */
export function guessSyntax(bytes: Uint8Array, at = 0): string {
  const vr = String.fromCharCode(bytes[at + 4] ?? 0, bytes[at + 5] ?? 0);
  return VRS.has(vr) ? EXPLICIT_LITTLE : IMPLICIT_LITTLE;
}

/**
 * Raw deflate, tolerating bytes after the end of the stream: writers pad it to even length, some append a gzip
 * trailer, and Chromium's DecompressionStream then errors ("junk after end") and drops the output of the chunk that
 * held the end. The last bytes therefore go in one by one, so the end falls on a chunk boundary and everything
 * inflated before the junk has been read out; a stream cut short still fails, later, when the data set is parsed.
 */
async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const ds = new DecompressionStream("deflate-raw");
  const writer = ds.writable.getWriter();
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
  })();
  const writing = (async () => {
    const tail = Math.max(0, data.length - 1024);
    if (tail > 0) await writer.write(data.subarray(0, tail) as Uint8Array<ArrayBuffer>);
    for (let i = tail; i < data.length; i++) await writer.write(data.subarray(i, i + 1) as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  const [read] = await Promise.allSettled([reading, writing]);
  if (read.status === "rejected" && chunks.length === 0) throw read.reason;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Where the meta header ends, by its group length (0002,0000), the first element after "DICM"; null without one.
 * dicom-parser reads the meta header up to the first element outside group 0002, which a data set that starts
 * with a private group (0001) defeats.
 */
function metaEnd(bytes: Uint8Array): number | null {
  const at = MAGIC_END;
  if (bytes.length < at + 12) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isGroupLength = dv.getUint16(at, true) === 0x0002 && dv.getUint16(at + 2, true) === 0x0000;
  if (!isGroupLength || bytes[at + 4] !== 0x55 || bytes[at + 5] !== 0x4c) return null; // "UL"
  return at + 12 + dv.getUint32(at + 8, true);
}

/** Parse a whole file; errors name the file and say whether it is cut short. */
export async function parseDicomBytes(bytes: Uint8Array, fileName: string): Promise<Parsed> {
  let syntax: string;
  let body: Uint8Array;
  if (hasDicomMagic(bytes)) {
    const end = metaEnd(bytes);
    if (end !== null && end > bytes.length) throw new Error(`${fileName}: truncated DICOM file (it ends in its meta header)`);
    let meta: DataSet & { position?: number };
    try {
      meta = dicomParser.readPart10Header(end === null ? bytes : bytes.subarray(0, Math.min(end, bytes.length)));
    } catch (e) {
      throw parseError(fileName, e);
    }
    body = bytes.subarray(end ?? meta.position ?? MAGIC_END);
    if (body.length === 0) throw new Error(`${fileName}: truncated DICOM file (nothing after its meta header)`);
    // no transfer syntax in the meta header: pydicom guesses from the data set's bytes, and so do we
    syntax = meta.string("x00020010")?.replace(/\0/g, "").trim() || guessSyntax(body);
  } else {
    // a bare data set (a .dcm without the Part 10 preamble), in a guessed syntax
    body = bytes;
    syntax = guessSyntax(body);
  }
  if (syntax === DEFLATED) {
    try {
      body = await inflateRaw(body);
    } catch (e) {
      throw new Error(`${fileName}: truncated or corrupt deflated data set (${reasonOf(e)})`);
    }
  }
  // Some writers declare an explicit VR syntax and write the data set in implicit VR (pydicom reads those too):
  // parse in the encoding the bytes show; the declared syntax still says how the pixels are compressed.
  const explicit = guessSyntax(body) === EXPLICIT_LITTLE || syntax === DEFLATED;
  const encoding = syntax === IMPLICIT_LITTLE || !explicit ? IMPLICIT_LITTLE : syntax === DEFLATED ? EXPLICIT_LITTLE : syntax;
  try {
    // TransferSyntaxUID: parse `body` from its first byte in that encoding (dicom-parser looks for no preamble then)
    // implicit VR: say PixelData is OB, or dicom-parser reads encapsulated fragments as a sequence's items
    const vrCallback = (tag: string) => (tag === "x7fe00010" ? "OB" : undefined);
    const options = { TransferSyntaxUID: encoding, vrCallback } as ParseDicomOptions;
    return { ds: dicomParser.parseDicom(body, options), syntax };
  } catch (e) {
    throw parseError(fileName, e);
  }
}
