/**
 * The browser's DICOM decoder (src/lib/image/dicom/) on files made to order (test/dicomWrite.ts): docs/DICOM.md's rule
 * (windows, percentiles, LUTs, MONOCHROME1, BitsStored), the transfer syntax refusals and the errors for broken
 * files. Parity with Python on real files: dicomParity.test.ts.
 */
import { deflateRawSync } from "node:zlib";

import { describe, expect, it } from "vitest";

import { decodeDicomBytes, storedValue } from "../src/lib/image/dicom";
import { ybrToRgb } from "../src/lib/image/dicom/colour";
import { hasDicomMagic, isDicomFile } from "../src/lib/image/dicom/detect";
import { asStoredComponents } from "../src/lib/image/dicom/jpegColour";
import { decodeRle, unpackBits } from "../src/lib/image/dicom/rle";
import { codecFor, syntaxLabel, TRANSFER_SYNTAXES } from "../src/lib/image/dicom/syntaxes";
import {
  percentile,
  percentileWindow,
  toByte,
  windowLinear,
  windowLinearExact,
  windowSigmoid,
} from "../src/lib/image/dicom/voi";
import { decodeUpload } from "../src/lib/image/upload";
import { concat, dicomFile, encapsulated, imageElements, sequence, u16, type El } from "./dicomWrite";

/** The gray value of each pixel (R of RGBA, checked equal to G and B). */
function grays(img: { rgba: Uint8ClampedArray }): number[] {
  const out: number[] = [];
  for (let i = 0; i < img.rgba.length; i += 4) {
    expect([img.rgba[i + 1], img.rgba[i + 2], img.rgba[i + 3]]).toEqual([img.rgba[i], img.rgba[i], 255]);
    out.push(img.rgba[i]!);
  }
  return out;
}

const gray = (values: number[], extra: El[] = [], o: Partial<Parameters<typeof imageElements>[0]> = {}) =>
  dicomFile({ elements: imageElements({ rows: 1, columns: values.length, extra, ...o }), pixels: u16(values) });

describe("VOI functions (docs/DICOM.md step 4)", () => {
  it("LINEAR: 0 at or below c - 0.5 - (w - 1) / 2, 1 above c - 0.5 + (w - 1) / 2, linear between", () => {
    // c 40, w 400: thresholds -160 and 239
    expect(windowLinear(-160, 40, 400)).toBe(0);
    expect(windowLinear(-159, 40, 400)).toBe((-159 - 39.5) / 399 + 0.5);
    expect(windowLinear(239, 40, 400)).toBe(1); // (239 - 39.5) / 399 + 0.5, exactly
    expect(windowLinear(239.0001, 40, 400)).toBe(1);
    expect(windowLinear(39.5, 40, 400)).toBe(0.5);
    // w = 1: a step at c - 0.5
    expect([windowLinear(9.5, 10, 1), windowLinear(9.5001, 10, 1)]).toEqual([0, 1]);
  });

  it("LINEAR_EXACT: clamp((v - c) / w + 0.5, 0, 1)", () => {
    expect([-6, -5, 0, 2.5, 5, 6].map((v) => windowLinearExact(v, 0, 10))).toEqual([0, 0, 0.5, 0.75, 1, 1]);
  });

  it("SIGMOID: 1 / (1 + exp(-4 (v - c) / w))", () => {
    expect(windowSigmoid(100, 100, 50)).toBe(0.5);
    expect(windowSigmoid(150, 100, 50)).toBe(1 / (1 + Math.exp(-4)));
    expect(windowSigmoid(75, 100, 50)).toBe(1 / (1 + Math.exp(2)));
  });

  it("percentiles are numpy's 'linear' method, with numpy's two-sided interpolation", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i * 3);
    const kth = (r: number) => sorted[r]!;
    // (n - 1) * 0.005 = 0.495: a + (b - a) * t below t = 0.5; (n - 1) * 0.995 = 98.505: b - (b - a) * (1 - t)
    expect(percentile(kth, 100, 0.5)).toBe(0 + 3 * ((100 - 1) * (0.5 / 100)));
    expect(percentile(kth, 100, 99.5)).toBe(297 - 3 * (1 - ((100 - 1) * (99.5 / 100) - 98)));
    expect(percentile(kth, 1, 0.5)).toBe(0);
    expect(percentile(kth, 100, 100)).toBe(297);
    expect(percentileWindow(5, 5, 5)).toBe(0); // hi == lo
    expect([percentileWindow(0, 1, 3), percentileWindow(2, 1, 3), percentileWindow(4, 1, 3)]).toEqual([0, 0.5, 1]);
  });

  it("rounds y * 255 half up", () => {
    expect([0, 1, 0.5, 0.5 / 255, 0.49 / 255, 254.5 / 255].map(toByte)).toEqual([0, 255, 128, 1, 0, 255]);
  });
});

describe("stored values (BitsStored, PixelRepresentation)", () => {
  it("masks unsigned samples and sign-extends signed ones", () => {
    expect(storedValue(0xf123, 12, false)).toBe(0x123);
    expect(storedValue(0x0800, 12, true)).toBe(-2048);
    expect(storedValue(0xffff, 16, true)).toBe(-1);
    expect(storedValue(0x7fff, 16, true)).toBe(32767);
    expect(storedValue(0xffffffff, 32, false)).toBe(4294967295);
    expect(storedValue(0xffffffff, 32, true)).toBe(-1);
    expect(storedValue(0x80000000, 31, false)).toBe(0);
  });

  it("applies them before the rule: garbage above BitsStored does not change the image", async () => {
    const clean = await decodeDicomBytes(gray([0, 1000, 2000, 4095], [], { bitsStored: 12 }), "clean.dcm");
    const dirty = await decodeDicomBytes(gray([0xf000, 0x13e8, 0x27d0, 0xffff], [], { bitsStored: 12 }), "dirty.dcm");
    expect(grays(dirty)).toEqual(grays(clean));
  });
});

describe("the rule on files made to order", () => {
  const exact = (c: string, w: string): El[] => [
    [0x0028, 0x1050, "DS", c],
    [0x0028, 0x1051, "DS", w],
    [0x0028, 0x1056, "CS", "LINEAR_EXACT"],
  ];

  it("windows with the first WindowCenter / WindowWidth, and inverts MONOCHROME1", async () => {
    // LINEAR_EXACT c 50 w 100: y = v / 100; the second window (c 0, w 1) is ignored
    const values = [0, 100, 25, 50];
    const mono2 = await decodeDicomBytes(gray(values, exact("50\\0", "100\\1")), "m2.dcm");
    expect(grays(mono2)).toEqual([0, 255, 64, 128]);
    const mono1 = await decodeDicomBytes(gray(values, exact("50\\0", "100\\1"), { photometric: "MONOCHROME1" }), "m1.dcm");
    expect(grays(mono1)).toEqual([255, 0, 191, 128]);
  });

  it("rescales before the window (v = stored * slope + intercept)", async () => {
    const rescaled: El[] = [...exact("50", "100"), [0x0028, 0x1052, "DS", "-100"], [0x0028, 0x1053, "DS", "2"]];
    expect(grays(await decodeDicomBytes(gray([50, 100, 62, 75], rescaled), "r.dcm"))).toEqual([0, 255, 61, 128]);
  });

  it("reads signed samples and a window narrower than 1 falls back to percentiles", async () => {
    const values = [-1000, 0, 1000, 3000];
    const img = await decodeDicomBytes(
      gray(values.map((v) => v & 0xffff), [[0x0028, 0x1050, "DS", "0"], [0x0028, 0x1051, "DS", "0.5"]], { signed: true }),
      "s.dcm",
    );
    // n = 4: lo at index 0.015, hi at 2.985 of [-1000, 0, 1000, 3000]
    const lo = -1000 + 1000 * (3 * 0.005);
    const hi = 3000 - 2000 * (1 - (3 * 0.995 - 2));
    expect(grays(img)).toEqual(values.map((v) => toByte(percentileWindow(v, lo, hi))));
  });

  it("windows 32-bit data whose range is too wide for a table per value (the per-pixel path)", async () => {
    const values = [0, 2 ** 30, 2 ** 31, 2 ** 32 - 1];
    const pixels = new Uint8Array(16);
    values.forEach((v, i) => new DataView(pixels.buffer).setUint32(i * 4, v, true));
    const file = dicomFile({ elements: imageElements({ rows: 1, columns: 4, bitsAllocated: 32 }), pixels });
    const kth = (r: number) => values[r]!;
    const [lo, hi] = [percentile(kth, 4, 0.5), percentile(kth, 4, 99.5)];
    expect(grays(await decodeDicomBytes(file, "u32.dcm"))).toEqual(values.map((v) => toByte(percentileWindow(v, lo, hi))));
  });

  it("applies a Modality LUT Sequence and a VOI LUT Sequence", async () => {
    const lut = (first: number, bits: number, data: number[]) =>
      sequence([
        [0x0028, 0x3002, "US", [data.length, first, bits]],
        [0x0028, 0x3006, "OW", u16(data)],
      ]);
    // modality: stored 10..13 -> 0, 2, 4, 6 (clamped outside); VOI: v 0..6 -> data / 255
    const elements: El[] = [
      [0x0028, 0x3000, "SQ", lut(10, 16, [0, 2, 4, 6])],
      [0x0028, 0x3010, "SQ", lut(0, 8, [0, 10, 20, 30, 40, 50, 255])],
    ];
    const img = await decodeDicomBytes(gray([9, 10, 11, 12, 13, 99], elements), "lut.dcm");
    expect(grays(img)).toEqual([0, 0, 20, 40, 255, 255]);
  });

  it("takes the middle frame of a multi-frame image", async () => {
    const frames = [0, 1, 2, 3, 4].map((f) => [f * 10, f * 10 + 5]);
    const file = dicomFile({
      elements: imageElements({ rows: 1, columns: 2, extra: [[0x0028, 0x0008, "IS", "5"], ...exact("22.5", "5")] }),
      pixels: u16(frames.flat()),
    });
    expect(grays(await decodeDicomBytes(file, "mf.dcm"))).toEqual([0, 255]); // frame 2: 20 and 25
  });

  it("converts YBR_FULL with the document's formulas", () => {
    expect(ybrToRgb(128, 128, 128)).toEqual([128, 128, 128]);
    expect(ybrToRgb(100, 90, 200)).toEqual([
      Math.floor(100 + 1.402 * 72 + 0.5),
      Math.floor(100 - 0.344136 * -38 - 0.714136 * 72 + 0.5),
      Math.floor(100 + 1.772 * -38 + 0.5),
    ]);
    expect(ybrToRgb(255, 255, 255)[0]).toBe(255); // clipped
  });
});

describe("RLE Lossless (PS3.5 Annex G)", () => {
  it("unpacks PackBits runs: literal, replicate, no-op", () => {
    const out = new Uint8Array(7);
    unpackBits(Uint8Array.from([2, 1, 2, 3, 0x80, 0xfe, 9, 0, 7]), out);
    expect([...out]).toEqual([1, 2, 3, 9, 9, 9, 7]);
    expect(() => unpackBits(Uint8Array.from([0xfc, 9]), new Uint8Array(4))).toThrow(/past the end/);
    expect(() => unpackBits(Uint8Array.from([0, 1]), new Uint8Array(2))).toThrow(/ends after 1 of 2/);
  });

  it("puts the most significant byte's segment first", () => {
    const header = new Uint8Array(64);
    const dv = new DataView(header.buffer);
    dv.setUint32(0, 2, true);
    dv.setUint32(4, 64, true);
    dv.setUint32(8, 67, true);
    const frame = Uint8Array.from([...header, 1, 0x12, 0x34, 1, 0x56, 0x78]);
    expect([...decodeRle(frame, 2, 1, 16)]).toEqual([0x1256, 0x3478]);
  });
});

describe("refusals and broken files", () => {
  const image = imageElements({ rows: 2, columns: 2 });

  it("names the transfer syntax it cannot decode", async () => {
    const file = dicomFile({ syntax: "1.2.840.10008.1.2.4.51", elements: image, pixels: encapsulated([Uint8Array.of(0xff, 0xd8)]), encapsulate: true });
    await expect(decodeDicomBytes(file, "ext.dcm")).rejects.toThrow(
      "ext.dcm: transfer syntax 1.2.840.10008.1.2.4.51 (JPEG Extended, 12-bit) cannot be decoded in the browser;",
    );
    const other = dicomFile({ syntax: "1.2.840.10008.1.2.4.201", elements: image, pixels: encapsulated([Uint8Array.of(1)]), encapsulate: true });
    await expect(decodeDicomBytes(other, "ht.dcm")).rejects.toThrow("1.2.840.10008.1.2.4.201 (High-Throughput JPEG 2000 Lossless)");
    expect(syntaxLabel("1.2.3")).toBe("1.2.3 (unknown)");
    for (const [uid, s] of Object.entries(TRANSFER_SYNTAXES)) if (s.codec) expect(codecFor(uid, "f")).toBe(s.codec);
  });

  it("says when there is no pixel data", async () => {
    await expect(decodeDicomBytes(dicomFile({ elements: image }), "sr.dcm")).rejects.toThrow(
      "sr.dcm: no pixel data (PixelData) in this DICOM file",
    );
  });

  it("inflates deflated data sets, bytes after the stream's end or not, and says when one is cut short", async () => {
    const values = [0, 1000, 2000, 3000];
    const plain = await decodeDicomBytes(gray(values), "plain.dcm");
    const deflated = (junk: Uint8Array) =>
      dicomFile({
        syntax: "1.2.840.10008.1.2.1.99",
        elements: imageElements({ rows: 1, columns: 4 }),
        pixels: u16(values),
        dataSet: (b) => concat([deflateRawSync(b), junk]),
      });
    expect(await decodeDicomBytes(deflated(new Uint8Array(0)), "d.dcm")).toEqual(plain);
    // a gzip-style trailer after the stream (pydicom's image_dfl.dcm has one), and DICOM's even-length pad byte
    expect(await decodeDicomBytes(deflated(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)), "d.dcm")).toEqual(plain);
    expect(await decodeDicomBytes(deflated(Uint8Array.of(0)), "d.dcm")).toEqual(plain);
    const whole = deflated(new Uint8Array(0));
    await expect(decodeDicomBytes(whole.subarray(0, whole.length - 20), "dcut.dcm")).rejects.toThrow(/^dcut\.dcm: truncated/);
  });

  it("says when the file is truncated", async () => {
    const whole = gray([1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(decodeDicomBytes(whole.subarray(0, whole.length - 5), "cut.dcm")).rejects.toThrow(/^cut\.dcm: truncated DICOM file/);
    await expect(decodeDicomBytes(whole.subarray(0, 140), "cut2.dcm")).rejects.toThrow(/^cut2\.dcm: truncated/);
    // a frame count the pixel data does not hold
    const short = dicomFile({ elements: imageElements({ rows: 2, columns: 2, extra: [[0x0028, 0x0008, "IS", "3"]] }), pixels: u16([1, 2, 3, 4]) });
    await expect(decodeDicomBytes(short, "frames.dcm")).rejects.toThrow("frames.dcm: truncated DICOM file (the pixel data ends before frame 2 of 3)");
  });

  it("refuses a codestream larger than the header says before decoding it, and names the syntax when a decoder fails", async () => {
    const elements = imageElements({ rows: 2, columns: 2, bitsAllocated: 8 });
    // SOI, then SOF0 declaring 20000 x 20000
    const bomb = Uint8Array.of(0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0x4e, 0x20, 0x4e, 0x20, 1, 1, 0x11, 0);
    const jpeg = dicomFile({ syntax: "1.2.840.10008.1.2.4.50", elements, pixels: encapsulated([bomb]), encapsulate: true });
    await expect(decodeDicomBytes(jpeg, "bomb.dcm")).rejects.toThrow(
      "bomb.dcm: cannot decode the pixel data (1.2.840.10008.1.2.4.50 (JPEG Baseline (8-bit))): the codestream is 20000x20000, the header says 2x2",
    );
    const junk = Uint8Array.of(0xff, 0x4f, 0xff, 0x51, 0, 0);
    const j2k = dicomFile({ syntax: "1.2.840.10008.1.2.4.90", elements, pixels: encapsulated([junk]), encapsulate: true });
    await expect(decodeDicomBytes(j2k, "junk.dcm")).rejects.toThrow(
      "junk.dcm: cannot decode the pixel data (1.2.840.10008.1.2.4.90 (JPEG 2000 Lossless)): ",
    );
  });

  it("refuses PALETTE COLOR, and checks the size rule before reading pixels", async () => {
    const palette = dicomFile({ elements: imageElements({ rows: 1, columns: 2, photometric: "PALETTE COLOR", bitsAllocated: 8 }), pixels: Uint8Array.of(1, 2) });
    await expect(decodeDicomBytes(palette, "p.dcm")).rejects.toThrow("p.dcm: PALETTE COLOR images are not supported");
    // 20001 x 1 declared, 2 bytes of pixels: the size is refused, not the truncation
    const huge = dicomFile({ elements: imageElements({ rows: 1, columns: 20_001 }), pixels: u16([1]) });
    await expect(decodeDicomBytes(huge, "big.dcm")).rejects.toThrow("big.dcm: image too large: 20001x1");
  });
});

describe("detection and routing", () => {
  const file = gray([0, 1, 2, 3], [[0x0028, 0x1050, "DS", "1.5"], [0x0028, 0x1051, "DS", "4"]]);

  it("knows DICOM by its name, its type or the DICM magic", async () => {
    expect(hasDicomMagic(file)).toBe(true);
    expect(await isDicomFile(new File([file as Uint8Array<ArrayBuffer>], "IM000001"))).toBe(true);
    expect(await isDicomFile(new File([Uint8Array.of(1, 2)], "a.DCM"))).toBe(true);
    expect(await isDicomFile(new File([Uint8Array.of(1, 2)], "a", { type: "application/dicom" }))).toBe(true);
    expect(await isDicomFile(new File([new Uint8Array(200)], "a.png"))).toBe(false);
  });

  it("decodeUpload sends DICOM files to the DICOM decoder", async () => {
    const img = await decodeUpload(new File([file as Uint8Array<ArrayBuffer>], "IM000001"));
    expect([img.width, img.height]).toEqual([4, 1]);
    // LINEAR c 1.5 w 4: (v - 1) / 3 + 0.5; for v = 2 that is 0.8333333333333333 in float64, * 255 = 212.49999999999997
    expect(grays(img)).toEqual([43, 128, 212, 255]);
  });
});

describe("JPEG Baseline colour", () => {
  it("hands the components over as stored: JFIF and Adobe segments give way to one Adobe transform-0 segment", () => {
    const seg = (marker: number, text: string) => {
      const body = Uint8Array.from(text, (c) => c.charCodeAt(0));
      return [0xff, marker, 0, body.length + 2, ...body];
    };
    const jpeg = Uint8Array.from([0xff, 0xd8, ...seg(0xe0, "JFIF\0xx"), ...seg(0xee, "Adobe\0\0\0\0\0\x01"), ...seg(0xe1, "Exif"), 0xff, 0xda, 1, 2]);
    const out = asStoredComponents(jpeg);
    expect([...out]).toEqual([0xff, 0xd8, 0xff, 0xee, 0, 14, ..."Adobe".split("").map((c) => c.charCodeAt(0)), 0, 0x64, 0, 0, 0, 0, 0, ...seg(0xe1, "Exif"), 0xff, 0xda, 1, 2]);
  });
});
