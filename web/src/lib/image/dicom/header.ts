// What a data set says about its pixels, checked in the order of src/medmir/imaging/dicom.py `frame_info` (pixel data,
// transfer syntax, photometric interpretation, size) and before any pixel is decoded: the size rule of every image
// (lib/image/imageLimits.ts) applies to Rows x Columns.

import type { DataSet } from "dicom-parser";

import { sizeProblem } from "../imageLimits";
import { codecFor, EXPLICIT_BIG, type Codec } from "./syntaxes";

const MONO = ["MONOCHROME1", "MONOCHROME2"] as const;
// YBR_RCT / YBR_ICT: JPEG 2000's reversible / irreversible colour transforms, which the decoder undoes (RGB out)
const COLOUR = ["RGB", "YBR_FULL", "YBR_FULL_422", "YBR_RCT", "YBR_ICT"] as const;
export type Photometric = (typeof MONO)[number] | (typeof COLOUR)[number];

export interface ImageHeader {
  rows: number;
  columns: number;
  frames: number;
  /** 1 (grayscale) or 3 (colour) */
  samplesPerPixel: 1 | 3;
  bitsAllocated: 1 | 8 | 16 | 32;
  bitsStored: number;
  /** PixelRepresentation 1: two's complement samples */
  signed: boolean;
  photometric: Photometric;
  /** PlanarConfiguration 1: a native colour frame holds all R, then all G, then all B */
  planar: boolean;
  colour: boolean;
  /** the transfer syntax is big endian (only native samples are affected) */
  bigEndian: boolean;
  codec: Codec;
}

const has = (ds: DataSet, tag: string) => ds.elements[tag] !== undefined;

export function readImageHeader(ds: DataSet, syntax: string, fileName: string): ImageHeader {
  const fail = (why: string) => new Error(`${fileName}: ${why}`);
  if (!has(ds, "x7fe00010")) throw fail("no pixel data (PixelData) in this DICOM file");
  const codec = codecFor(syntax, fileName);
  const pi = (ds.string("x00280004") ?? "").trim().toUpperCase();
  if (pi === "PALETTE COLOR") {
    throw fail(
      "PALETTE COLOR images are not supported (their colours come from lookup tables medmir does not apply); " +
        "convert the image to RGB first",
    );
  }
  const colour = (COLOUR as readonly string[]).includes(pi);
  if (!colour && !(MONO as readonly string[]).includes(pi)) {
    throw fail(`unsupported photometric interpretation ${pi || "(none)"}`);
  }
  const rows = ds.uint16("x00280010");
  const columns = ds.uint16("x00280011");
  if (!rows || !columns) throw fail("missing or invalid image size tags (Rows, Columns)");
  const problem = sizeProblem(columns, rows);
  if (problem) throw fail(problem);
  const bitsAllocated = ds.uint16("x00280100") ?? 0;
  if (bitsAllocated !== 1 && bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    throw fail(`BitsAllocated ${bitsAllocated} is not supported (1, 8, 16 or 32)`);
  }
  const spp = ds.uint16("x00280002") ?? (colour ? 3 : 1);
  if (spp !== (colour ? 3 : 1)) throw fail(`SamplesPerPixel ${spp} does not fit photometric interpretation ${pi}`);
  const stored = ds.uint16("x00280101") || bitsAllocated;
  const nFrames = ds.string("x00280008")?.trim() || "1";
  if (!/^[+-]?\d+$/.test(nFrames)) throw fail(`missing or invalid image size tags (NumberOfFrames ${JSON.stringify(nFrames)})`);
  return {
    rows,
    columns,
    frames: Math.max(1, Number(nFrames) || 1),
    samplesPerPixel: spp,
    bitsAllocated,
    bitsStored: Math.min(stored, bitsAllocated),
    signed: ds.uint16("x00280103") === 1,
    photometric: pi as Photometric,
    planar: colour && ds.uint16("x00280006") === 1,
    colour,
    bigEndian: syntax === EXPLICIT_BIG,
    codec,
  };
}
