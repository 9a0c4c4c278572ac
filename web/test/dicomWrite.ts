/**
 * A tiny DICOM Part 10 writer for tests (explicit VR little endian data sets, any declared transfer syntax), so the
 * browser decoder's error paths and rule can be tested on files made to order. Not a general encoder.
 */

export type Value = string | number[] | Uint8Array;
/** [group, element, VR, value]; US/SS/UL values are number arrays, strings are padded to even length. */
export type El = [number, number, string, Value];

const LONG = new Set(["OB", "OW", "OF", "SQ", "UT", "UN"]);

function encodeValue(vr: string, v: Value): Uint8Array {
  if (v instanceof Uint8Array) return v.length % 2 ? Uint8Array.from([...v, 0]) : v;
  if (typeof v === "string") {
    const s = v.length % 2 ? v + (vr === "UI" ? "\0" : " ") : v;
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  }
  const size = vr === "UL" || vr === "SL" ? 4 : 2;
  const out = new Uint8Array(v.length * size);
  const dv = new DataView(out.buffer);
  v.forEach((x, i) =>
    size === 4 ? dv.setUint32(i * 4, x >>> 0, true) : vr === "SS" ? dv.setInt16(i * 2, x, true) : dv.setUint16(i * 2, x, true),
  );
  return out;
}

function element([group, elem, vr, v]: El, undefinedLength = false): Uint8Array {
  const value = encodeValue(vr, v);
  const long = LONG.has(vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, group, true);
  dv.setUint16(2, elem, true);
  head[4] = vr.charCodeAt(0);
  head[5] = vr.charCodeAt(1);
  if (long) dv.setUint32(8, undefinedLength ? 0xffffffff : value.length, true);
  else dv.setUint16(6, value.length, true);
  return concat([head, value]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function item(tag: number, body: Uint8Array): Uint8Array {
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, 0xfffe, true);
  dv.setUint16(2, tag, true);
  dv.setUint32(4, body.length, true);
  return concat([head, body]);
}

/** Encapsulated pixel data (empty Basic Offset Table, one fragment per frame, sequence delimiter). */
export function encapsulated(frames: Uint8Array[]): Uint8Array {
  const even = (f: Uint8Array) => (f.length % 2 ? concat([f, new Uint8Array(1)]) : f);
  return concat([item(0xe000, new Uint8Array(0)), ...frames.map((f) => item(0xe000, even(f))), item(0xe0dd, new Uint8Array(0))]);
}

/** A sequence with one item holding `elements` (defined lengths). */
export function sequence(elements: El[]): Uint8Array {
  return item(0xe000, concat(elements.map((e) => element(e))));
}

export interface FileOptions {
  syntax?: string;
  /** PixelData bytes (native) or `encapsulated(...)` output (then written with undefined length) */
  pixels?: Uint8Array;
  encapsulate?: boolean;
  elements: El[];
  /** applied to the data set's bytes (e.g. deflate for 1.2.840.10008.1.2.1.99) */
  dataSet?: (bytes: Uint8Array) => Uint8Array;
}

/** A Part 10 file: 128-byte preamble, "DICM", meta header, then the data set (elements sorted by tag). */
export function dicomFile({ syntax = "1.2.840.10008.1.2.1", pixels, encapsulate = false, elements, dataSet = (b) => b }: FileOptions): Uint8Array {
  const meta = concat([
    element([0x0002, 0x0001, "OB", Uint8Array.from([0, 1])]),
    element([0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.7"]),
    element([0x0002, 0x0003, "UI", "1.2.3.4"]),
    element([0x0002, 0x0010, "UI", syntax]),
  ]);
  const sorted = [...elements].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const body = sorted.map((e) => element(e));
  if (pixels) body.push(element([0x7fe0, 0x0010, encapsulate ? "OB" : "OW", pixels], encapsulate));
  const preamble = new Uint8Array(132);
  preamble.set([0x44, 0x49, 0x43, 0x4d], 128);
  return concat([preamble, element([0x0002, 0x0000, "UL", [meta.length]]), meta, dataSet(concat(body))]);
}

/** The image module of a grayscale or colour image. */
export function imageElements(o: {
  rows: number;
  columns: number;
  photometric?: string;
  bitsAllocated?: number;
  bitsStored?: number;
  signed?: boolean;
  samples?: number;
  extra?: El[];
}): El[] {
  const bits = o.bitsAllocated ?? 16;
  return [
    [0x0028, 0x0002, "US", [o.samples ?? 1]],
    [0x0028, 0x0004, "CS", o.photometric ?? "MONOCHROME2"],
    [0x0028, 0x0010, "US", [o.rows]],
    [0x0028, 0x0011, "US", [o.columns]],
    [0x0028, 0x0100, "US", [bits]],
    [0x0028, 0x0101, "US", [o.bitsStored ?? bits]],
    [0x0028, 0x0102, "US", [(o.bitsStored ?? bits) - 1]],
    [0x0028, 0x0103, "US", [o.signed ? 1 : 0]],
    ...(o.extra ?? []),
  ];
}

/** 16-bit little-endian samples. */
export const u16 = (values: number[]): Uint8Array => {
  const out = new Uint8Array(values.length * 2);
  values.forEach((v, i) => new DataView(out.buffer).setUint16(i * 2, v & 0xffff, true));
  return out;
};
