/**
 * The browser's DICOM decoder (src/lib/image/dicom/) against Python's (medmir.imaging.decode.load_image ->
 * medmir.imaging.dicom), on
 * 1. the samples of tests/dicom_samples.py (written from the shared NIH X-rays): grayscale lossless byte for byte,
 *    lossy JPEG within max 2 / mean 0.5; those the browser cannot decode must name their transfer syntax;
 * 2. pydicom's own test files (every transfer syntax, colour model, bit depth and byte order it ships).
 * Needs the repository's .venv (`make install`); part 1 also ../shared (as the preprocessing tests).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { decodeDicomBytes } from "../src/lib/image/dicom";
import { parseDicomBytes } from "../src/lib/image/dicom/parse";
import type { DecodedImage } from "../src/lib/image/decodedImage";
import { decodePng } from "./pngDecode";

const ROOT = new URL("../../", import.meta.url).pathname;
const PYTHON = join(ROOT, ".venv/bin/python");
const SAMPLES_SCRIPT = join(ROOT, "tests/dicom_samples.py");
const NIH = join(ROOT, "../shared/data/nih-sample/images");
const TIMEOUT = 120_000;

/** Max and mean absolute difference between the RGBA decode and Python's RGB (or gray) bytes. */
function difference(img: DecodedImage, want: Uint8Array, channels: number): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      const d = Math.abs(img.rgba[p * 4 + c]! - want[p * channels + (channels === 1 ? 0 : c)]!);
      if (d > max) max = d;
      sum += d;
    }
  }
  return { max, mean: sum / (3 * n) };
}

interface Sample {
  name: string;
  transfer_syntax: string;
  browser: boolean;
  exact: boolean;
}

const haveSamples = existsSync(SAMPLES_SCRIPT) && existsSync(NIH);

describe.skipIf(!haveSamples)("tests/dicom_samples.py: the same pixels as Python", () => {
  const dir = mkdtempSync(join(tmpdir(), "medmir-dicom-"));
  let samples: Sample[] = [];
  beforeAll(() => {
    execFileSync(PYTHON, [SAMPLES_SCRIPT, dir], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    samples = JSON.parse(readFileSync(join(dir, "samples.json"), "utf8")) as Sample[];
  }, TIMEOUT);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists samples, some the browser decodes and some it refuses", () => {
    expect(samples.filter((s) => s.browser).length).toBeGreaterThan(5);
  });

  it("decodes each as Python does (exact ones byte for byte), and names the syntax of those it cannot", async () => {
    const report: string[] = [];
    for (const s of samples) {
      const bytes = new Uint8Array(readFileSync(join(dir, `${s.name}.dcm`)));
      const file = `${s.name}.dcm`;
      if (!s.browser) {
        await expect(decodeDicomBytes(bytes, file), s.name).rejects.toThrow(`${file}: transfer syntax ${s.transfer_syntax} (`);
        continue;
      }
      const img = await decodeDicomBytes(bytes, file);
      const png = decodePng(new Uint8Array(readFileSync(join(dir, `${s.name}.png`))));
      expect([img.width, img.height], s.name).toEqual([png.width, png.height]);
      const d = difference(img, png.data, png.channels);
      report.push(`${s.name}: max ${d.max}, mean ${d.mean.toFixed(4)}`);
      if (s.exact) expect(d.max, s.name).toBe(0);
      else {
        expect(d.max, s.name).toBeLessThanOrEqual(2);
        expect(d.mean, s.name).toBeLessThan(0.5);
      }
    }
    expect(report.length).toBe(samples.filter((s) => s.browser).length);
  }, TIMEOUT);
});

// Python's decode of every pydicom test file: uint8 RGB bytes, or the error it raises.
const REFERENCE = `
import json, sys
from pathlib import Path
import numpy as np
import pydicom
from medmir.imaging.decode import load_image
out = Path(sys.argv[1])
files = sorted((Path(pydicom.__file__).parent / "data" / "test_files").glob("*.dcm"))
listed = {}
for f in files:
    try:
        img = np.asarray(load_image(f).convert("RGB"))
        (out / (f.name + ".rgb")).write_bytes(img.tobytes())
        listed[f.name] = {"path": str(f), "width": img.shape[1], "height": img.shape[0]}
    except Exception as e:
        listed[f.name] = {"path": str(f), "error": str(e)}
(out / "reference.json").write_text(json.dumps(listed))
`;

// JPEG Baseline: libjpeg-turbo (browser) and libjpeg (pylibjpeg) upsample chroma and round their IDCTs differently
const LOSSY_JPEG = { max: 3, mean: 0.5 };
// Where the two sides knowingly differ; each `it.fails`, so the entry must go once they agree.
const KNOWN_DIFFERENCES: Record<string, string> = {};

describe.skipIf(!existsSync(PYTHON))("pydicom's test files: the same pixels or the same refusal as Python", () => {
  const dir = mkdtempSync(join(tmpdir(), "medmir-dicom-ref-"));
  type Ref = { path: string; width?: number; height?: number; error?: string };
  let reference: Record<string, Ref> = {};
  beforeAll(() => {
    execFileSync(PYTHON, ["-c", REFERENCE, dir], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as Record<string, Ref>;
  }, TIMEOUT);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function compare(name: string): Promise<void> {
    const ref = reference[name]!;
    const bytes = new Uint8Array(readFileSync(ref.path));
    const syntax = await parseDicomBytes(bytes, name).then((p) => p.syntax, () => "");
    if (ref.error !== undefined) {
      // Python refuses it: so does the browser, naming the file
      await expect(decodeDicomBytes(bytes, name), name).rejects.toThrow(`${name}: `);
      return;
    }
    if (syntax === "1.2.840.10008.1.2.4.51") {
      await expect(decodeDicomBytes(bytes, name)).rejects.toThrow(`${name}: transfer syntax 1.2.840.10008.1.2.4.51 (JPEG Extended, 12-bit)`);
      return;
    }
    const img = await decodeDicomBytes(bytes, name);
    expect([img.width, img.height], name).toEqual([ref.width, ref.height]);
    const d = difference(img, new Uint8Array(readFileSync(join(dir, `${name}.rgb`))), 3);
    if (syntax === "1.2.840.10008.1.2.4.50") {
      expect(d.max, name).toBeLessThanOrEqual(LOSSY_JPEG.max);
      expect(d.mean, name).toBeLessThan(LOSSY_JPEG.mean);
    } else {
      expect(d, name).toEqual({ max: 0, mean: 0 });
    }
  }

  it("decodes every file Python decodes (lossless ones byte for byte) and refuses the others", async () => {
    const names = Object.keys(reference).filter((n) => !(n in KNOWN_DIFFERENCES));
    expect(names.length).toBeGreaterThan(50);
    for (const name of names) await compare(name);
  }, TIMEOUT);

  for (const [name, why] of Object.entries(KNOWN_DIFFERENCES)) {
    it.fails(`${name} differs: ${why}`, () => compare(name), TIMEOUT);
  }
});
