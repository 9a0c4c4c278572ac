// Reading the site's two contracts (docs/FORMAT.md): the model pack manifest and the bundle's index_info.

import { fetchJson, sha256Hex } from "../storage/cache";
import type { FileSpec } from "../storage/fileSpec";
import { parseScoreBands, type ScoreBands } from "./bands";

export const BUNDLE_DIR = "data/";
export const MODEL_DIR = "model/";

export interface FileMeta {
  bytes: number;
  sha256: string;
}

export interface IndexInfo {
  format: "medmir-bundle";
  format_version: number;
  count: number;
  dim: number;
  dtype: string;
  random_weights: boolean;
  warning: string | null;
  model: { name: string; title: string; source: string; revision: string | null; manifest_sha256: string };
  files: Record<string, FileMeta>;
  image_embeddings?: { precision: string };
  /** what a score means in this collection, per query kind (bands.ts); absent in bundles written before it */
  score_bands?: ScoreBands;
}

export interface SpecialToken {
  token: string;
  id: number;
}

/** The fields of a model pack manifest's `tokenizer` section that drive tokenisation. */
export interface TokenizerSpec {
  lowercase: boolean;
  strip_accents: boolean;
  handle_chinese_chars: boolean;
  max_chars_per_word: number;
  continuing_subword_prefix: string;
  context_length: number;
  special_tokens: {
    pad: SpecialToken;
    unk: SpecialToken;
    cls: SpecialToken;
    sep: SpecialToken;
    mask: SpecialToken;
  };
}

export interface TokenizerManifest extends TokenizerSpec {
  vocab: string;
}

export interface Manifest {
  format: "medmir-model-pack";
  format_version: number;
  model: { name: string; title: string; random_weights: boolean; embed_dim: number; context_length: number };
  tokenizer: TokenizerManifest;
  preprocess: { image_size: number; mean: number[]; std: number[] };
  models: Record<"text" | "vision", { int8: string; input: { name: string }; output: { name: string } }>;
  files: Record<string, FileMeta>;
}

function need(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

export function parseIndexInfo(x: unknown): IndexInfo {
  const o = x as Partial<IndexInfo> | null;
  need(o && o.format === "medmir-bundle", "index_info.json: not a medmir bundle");
  need(
    o.format_version === 1 || o.format_version === 2,
    `index_info.json: format_version ${String(o.format_version)}, this site reads 1 and 2`,
  );
  need(Number.isInteger(o.count) && (o.count ?? 0) > 0, "index_info.json: count must be a positive integer");
  need(Number.isInteger(o.dim) && (o.dim ?? 0) > 0, "index_info.json: dim must be a positive integer");
  need(o.files && o.model, "index_info.json: files or model missing");
  const v2 = o.format_version === 2;
  need(o.dtype === (v2 ? "int8" : "float32"), `index_info.json: dtype must be ${v2 ? "int8" : "float32"}`);
  const required = v2 ? ["metadata.json", "fallback_results.json", "scales.f32", "thumbs.idx"] : ["embeddings.bin", "metadata.json", "fallback_results.json", "nearest_neighbors.json"];
  for (const f of required) need(o.files[f], `index_info.json: files lacks ${f}`);
  if (!v2) {
    const emb = o.files["embeddings.bin"]!;
    need(
      emb.bytes === o.count! * o.dim! * 4,
      `embeddings.bin: index_info.json lists ${emb.bytes} bytes, but ${o.count} x ${o.dim} float32 needs ${o.count! * o.dim! * 4}`,
    );
  }
  parseScoreBands(o.score_bands);
  return o as IndexInfo;
}

export function parseManifest(x: unknown): Manifest {
  const o = x as Partial<Manifest> | null;
  need(o && o.format === "medmir-model-pack", "manifest.json: not a medmir model pack");
  // version 2: uint8 INT8 weights (the same numbers on every CPU); `medmir site` refuses version 1 packs
  need(o.format_version === 2, `manifest.json: format_version ${String(o.format_version)}, this site reads 2`);
  need(o.tokenizer && o.preprocess && o.models && o.files && o.model, "manifest.json: a section is missing");
  for (const tower of ["text", "vision"] as const) {
    const f = o.models[tower]?.int8;
    need(f && o.files[f], `manifest.json: no INT8 ${tower} model listed`);
  }
  return o as Manifest;
}

export function bundleFile(base: string, info: { files: Record<string, FileMeta> }, name: string): FileSpec {
  const meta = info.files[name];
  need(meta, `index_info.json: files lacks ${name}`);
  return { name, url: new URL(BUNDLE_DIR + name, base).href, bytes: meta.bytes, sha256: meta.sha256 };
}

export function modelFile(base: string, manifest: Manifest, name: string): FileSpec {
  const meta = manifest.files[name];
  need(meta, `manifest.json: files lacks ${name}`);
  return { name, url: new URL(MODEL_DIR + name, base).href, bytes: meta.bytes, sha256: meta.sha256 };
}

export interface SiteContracts {
  info: IndexInfo;
  manifest: Manifest;
}

/** Both contracts, and proof that the bundle was indexed with this very pack. */
export async function loadContracts(base: string): Promise<SiteContracts> {
  const info = parseIndexInfo(await fetchJson(new URL(BUNDLE_DIR + "index_info.json", base).href, "index_info.json"));
  const manifestUrl = new URL(MODEL_DIR + "manifest.json", base).href;
  const res = await fetch(manifestUrl).catch((e: unknown) => {
    throw new Error(`manifest.json: cannot load (${e instanceof Error ? e.message : String(e)})`);
  });
  if (!res.ok) throw new Error(`manifest.json: cannot load (HTTP ${res.status})`);
  const raw = new Uint8Array(await res.arrayBuffer());
  const digest = await sha256Hex(raw);
  need(
    digest === info.model.manifest_sha256,
    "manifest.json: not the model pack this bundle was indexed with (sha256 differs from index_info.json)",
  );
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw new Error("manifest.json: not valid JSON");
  }
  return { info, manifest: parseManifest(parsed) };
}
