// Renders the Metrics and Hard cases pages to static markup (node, no DOM) and checks them against the data files.
// Fixtures (web/test/fixtures) are a real `medmir evaluate` output (scripts/make_metrics_fixture.py; random-weight
// model, so the figures sit at chance); the same checks run on a whole evaluated bundle
// (tests/test_evaluate.py sets MEDMIR_METRICS_BUNDLE; otherwise build/demo/bundle when present).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { thumbnailPathFor } from "../src/lib/contracts/metadata";
import { TIER_NAMES, type HardCases, type Metrics } from "../src/lib/contracts/metrics";
import { parseHardCases, parseMetrics } from "../src/lib/contracts/metricsParse";
import { HardCasesPage } from "../src/pages/HardCasesPage";
import { MetricsPage } from "../src/pages/MetricsPage";

const EVIL = "<img src=x onerror=alert(1)>";

function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, "utf8"));
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function decode(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

interface Tag {
  name: string;
  attrs: Record<string, string>;
}

/** Every start tag of the markup with its (decoded) attributes. */
function startTags(html: string): Tag[] {
  const out: Tag[] = [];
  for (const m of html.matchAll(/<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of (m[2] ?? "").matchAll(/([^\s=>/]+)(?:="([^"]*)")?/g)) {
      attrs[a[1] ?? ""] = decode(a[2] ?? "");
    }
    out.push({ name: (m[1] ?? "").toLowerCase(), attrs });
  }
  return out;
}

function byTestId(html: string, id: string): Record<string, string>[] {
  return startTags(html)
    .filter((t) => t.attrs["data-testid"] === id)
    .map((t) => t.attrs);
}

function renderMetrics(m: Metrics): string {
  return renderToStaticMarkup(createElement(MetricsPage, { metrics: m }));
}

function renderHard(h: HardCases, calls: [string, string][] = []): string {
  return renderToStaticMarkup(
    createElement(HardCasesPage, {
      hard: h,
      thumbnailUrl: (filename: string, thumbnail: string) => {
        calls.push([filename, thumbnail]);
        return `https://bundle.example/data/${thumbnail}`;
      },
    }),
  );
}

/** The page shows every number of metrics.json that has a hook, and each hook equals the file. */
function checkMetricsPage(m: Metrics): void {
  const html = renderMetrics(m);

  const cells = byTestId(html, "metric");
  const expected = new Map<string, number>();
  for (const tier of TIER_NAMES) {
    for (const [k, f] of Object.entries(m.tiers[tier].metrics)) expected.set(`${tier}|${k}`, f.value);
  }
  for (const [k, f] of Object.entries(m.image_to_image.metrics)) expected.set(`image_to_image|${k}`, f.value);
  expect(cells.length).toBe(expected.size);
  const seen = new Set<string>();
  for (const c of cells) {
    const key = `${c["data-tier"]}|${c["data-metric"]}`;
    expect(expected.has(key), key).toBe(true);
    expect(c["data-value"], key).toBe(String(expected.get(key)));
    expect(Number(c["data-value"])).toBe(expected.get(key));
    seen.add(key);
  }
  expect(seen.size).toBe(expected.size);

  const figureOf = (tier: string, metric: string) =>
    tier === "image_to_image"
      ? m.image_to_image.metrics[metric]
      : m.tiers[tier as (typeof TIER_NAMES)[number]].metrics[metric];
  const ci = byTestId(html, "metric-ci");
  expect(ci.length).toBe(expected.size);
  for (const c of ci) {
    const f = figureOf(c["data-tier"] ?? "", c["data-metric"] ?? "");
    expect(f).toBeDefined();
    expect(Number(c["data-low"])).toBe(f?.ci95[0]);
    expect(Number(c["data-high"])).toBe(f?.ci95[1]);
  }
  const chance = byTestId(html, "metric-chance");
  expect(chance.length).toBe(expected.size);
  for (const c of chance) {
    const f = figureOf(c["data-tier"] ?? "", c["data-metric"] ?? "");
    expect(Number(c["data-value"])).toBe(f?.chance);
  }

  const auc = byTestId(html, "auc");
  expect(auc.length).toBe(m.zero_shot_auc.labels.length);
  auc.forEach((c, i) => {
    const row = m.zero_shot_auc.labels[i];
    expect(c["data-label"]).toBe(row?.label);
    expect(c["data-value"]).toBe(String(row?.auc));
  });
  expect(byTestId(html, "auc-mean")[0]?.["data-value"]).toBe(String(m.zero_shot_auc.mean_auc));
  expect(byTestId(html, "auc-chance")[0]?.["data-value"]).toBe(String(m.zero_shot_auc.chance));

  const perLabel = byTestId(html, "per-label");
  expect(perLabel.length).toBe(m.per_label.length * 5);
  for (const c of perLabel) {
    const row = m.per_label.find((r) => r.label === c["data-label"]);
    expect(row).toBeDefined();
    const metric = c["data-metric"] as "images" | "queries" | "hit@10" | "ap" | "chance_ap";
    expect(c["data-value"]).toBe(String(row?.[metric]));
  }

  for (const tier of TIER_NAMES) {
    const q = byTestId(html, "tier-queries").find((c) => c["data-tier"] === tier);
    expect(q?.["data-value"]).toBe(String(m.tiers[tier].queries));
  }

  // the evaluated model is named
  expect(html).toContain(decodeSafe(m.evaluated.what));
  expect(html).toContain(decodeSafe(m.evaluated.model.title));
  // Hit@K is described as "at least one relevant image in the top K", never as recall
  for (const k of m.ks) expect(html).toContain(`at least one relevant image in the top ${k}`);
  expect(html).not.toMatch(/Recall@\d+<\/span><span[^>]*>at least one/);
  // metric definitions from the file
  for (const doc of Object.values(m.metric_docs)) expect(html).toContain(decodeSafe(doc));
  // image -> image says plainly that the query's own patient is left out
  const note = byTestId(html, "i2i-same-patient");
  expect(note.length).toBe(1);
  expect(html).toContain("Images of the query&#x27;s own patient are excluded");
  checkCbir(m, html);
}

/** The CBIR (Denner et al.) section: every macro and per-label figure with its hooks, or nothing for older files. */
function checkCbir(m: Metrics, html: string): void {
  const c = m.image_to_image.cbir;
  const ids = ["cbir", "cbir-ci", "cbir-chance", "cbir-published", "cbir-label", "cbir-caveat", "cbir-section"];
  if (!c) {
    for (const id of ids) expect(byTestId(html, id).length, id).toBe(0);
    return;
  }
  expect(byTestId(html, "cbir-section").length).toBe(1);
  const macro = Object.entries(c.macro);
  const cells = byTestId(html, "cbir");
  expect(cells.map((x) => x["data-metric"])).toEqual(macro.map(([k]) => k));
  macro.forEach(([k, f], i) => {
    expect(cells[i]?.["data-value"]).toBe(String(f.value));
    const ci = byTestId(html, "cbir-ci")[i];
    expect([Number(ci?.["data-low"]), Number(ci?.["data-high"])]).toEqual(f.ci95);
    expect(byTestId(html, "cbir-chance")[i]?.["data-value"]).toBe(String(f.chance));
    const pub = c.published.values[k];
    expect(byTestId(html, "cbir-published")[i]?.["data-value"]).toBe(pub === undefined ? "" : String(pub));
  });
  const perLabel = byTestId(html, "cbir-label");
  const expected = c.per_label.flatMap((r) => macro.filter(([k]) => r.metrics[k]).map(([k]) => [r, k] as const));
  expect(perLabel.length).toBe(expected.length);
  perLabel.forEach((cell, i) => {
    const [row, k] = expected[i] ?? [];
    const f = row && k ? row.metrics[k] : undefined;
    expect(cell["data-label"]).toBe(row?.label);
    expect(cell["data-metric"]).toBe(k);
    expect(cell["data-value"]).toBe(String(f?.value));
    expect(cell["data-chance"]).toBe(String(f?.chance));
    expect([Number(cell["data-low"]), Number(cell["data-high"])]).toEqual(f?.ci95);
  });
  if (macro.length > 0) {
    expect(byTestId(html, "cbir-caveat").length).toBe(1);
    expect(html).toContain(decodeSafe(c.published.caveat));
    expect(html).toContain(decodeSafe(c.published.source));
    if (!c.published.comparable) expect(html).toContain("Not directly comparable.");
  }
  expect(html).toContain(decodeSafe(c.definition));
}

/** A metrics.json as written before nDCG, R-precision and the CBIR protocol existed. */
function withoutNewKeys(m: Metrics): Metrics {
  const old = clone(m);
  const drop = (figures: Record<string, unknown>) => {
    for (const k of Object.keys(figures)) if (k.startsWith("ndcg@") || k === "r_precision") delete figures[k];
  };
  for (const tier of TIER_NAMES) drop(old.tiers[tier].metrics);
  drop(old.image_to_image.metrics);
  delete old.image_to_image.cbir;
  for (const k of Object.keys(old.metric_docs)) if (k.startsWith("ndcg@") || k === "r_precision") delete old.metric_docs[k];
  for (const r of old.per_query) {
    delete r.ndcg;
    delete r.r_precision;
  }
  return old;
}

/** Escape like React does, to look for file text in the markup. */
function decodeSafe(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#x27;");
}

function checkHardPage(h: HardCases): void {
  const calls: [string, string][] = [];
  const html = renderHard(h, calls);
  const summary = Object.fromEntries(byTestId(html, "hard-summary").map((c) => [c["data-field"], c["data-value"]]));
  expect(summary).toEqual({
    count: String(h.count),
    queries: String(h.queries),
    semantic_matches: String(h.semantic_matches),
    true_failures: String(h.true_failures),
  });
  const cases = byTestId(html, "hard-case");
  expect(cases.length).toBe(h.cases.length);
  cases.forEach((c, i) => expect(c["data-verdict"]).toBe(h.cases[i]?.verdict));

  const imgs = startTags(html).filter((t) => t.name === "img");
  const retrieved = h.cases.flatMap((c) => c.retrieved);
  expect(imgs.length).toBe(retrieved.length);
  imgs.forEach((img, i) => {
    const r = retrieved[i];
    expect(img.attrs["loading"]).toBe("lazy");
    expect(img.attrs["alt"]).toContain(r?.filename);
    for (const l of r?.labels ?? []) expect(img.attrs["alt"]).toContain(l);
    expect(img.attrs["src"]).toBe(`https://bundle.example/data/${thumbnailPathFor(r?.filename ?? "")}`);
  });
  expect(calls.length).toBe(retrieved.length);
  calls.forEach(([f, t], i) => {
    expect(f).toBe(retrieved[i]?.filename);
    expect(t).toBe(`images/${(retrieved[i]?.filename ?? "").replace(/\.[^.]*$/, "")}.webp`);
  });

  const pairs = byTestId(html, "confusion-pair");
  expect(pairs.length).toBe(h.confusion_pairs.length);
  const recurring = new Set(h.recurring_confusion_pairs.map((p) => `${p.query_label}\u0000${p.retrieved_label}`));
  const expectedRecurring = h.confusion_pairs.filter((p) =>
    recurring.has(`${p.query_label}\u0000${p.retrieved_label}`),
  ).length;
  expect(pairs.filter((p) => p["data-recurring"] === "true").length).toBe(expectedRecurring);
}

const metricsFixture = parseMetrics(readJson(new URL("./fixtures/metrics.json", import.meta.url)));
const hardFixture = parseHardCases(readJson(new URL("./fixtures/hard_cases.json", import.meta.url)));

describe("MetricsPage (fixture)", () => {
  it("shows every figure of the file with matching data-value hooks", () => {
    checkMetricsPage(metricsFixture);
  });

  it("shows nDCG@10 and R-precision beside the other figures, with chance, in every tier and image -> image", () => {
    const html = renderMetrics(metricsFixture);
    for (const tier of [...TIER_NAMES, "image_to_image"]) {
      for (const metric of ["ndcg@10", "r_precision"]) {
        const figure =
          tier === "image_to_image"
            ? metricsFixture.image_to_image.metrics[metric]
            : metricsFixture.tiers[tier as (typeof TIER_NAMES)[number]].metrics[metric];
        expect(figure, `${tier} ${metric}`).toBeDefined();
        const chance = byTestId(html, "metric-chance").find(
          (c) => c["data-tier"] === tier && c["data-metric"] === metric,
        );
        expect(chance?.["data-value"]).toBe(String(figure?.chance));
      }
    }
    expect(html).toContain("nDCG@10");
    expect(html).toContain("R-precision");
  });

  it("shows the CBIR protocol: macro P@k with CI and chance, per label, and the published figure as not comparable", () => {
    const c = metricsFixture.image_to_image.cbir;
    expect(c).toBeDefined();
    expect(c?.ks).toEqual([1, 3, 5, 10]);
    expect(Object.keys(c?.macro ?? {})).toEqual(["precision@1", "precision@3", "precision@5", "precision@10"]);
    expect(c?.published.values["precision@10"]).toBe(0.583);
    const html = renderMetrics(metricsFixture);
    checkCbir(metricsFixture, html);
    const pub = byTestId(html, "cbir-published").find((x) => x["data-metric"] === "precision@10");
    expect(pub?.["data-value"]).toBe("0.583");
    expect(html).toContain("0.583");
    expect(html).toContain("Not directly comparable.");
    expect(html).toContain("CBIR protocol (Denner et al.)");
  });

  it("takes the CBIR numbers from the file", () => {
    const m = clone(metricsFixture);
    const c = m.image_to_image.cbir;
    if (!c) throw new Error("fixture without cbir");
    const p10 = c.macro["precision@10"];
    if (p10) {
      p10.value = 0.765432;
      p10.chance = 0.123456;
    }
    c.published.values["precision@10"] = 0.5;
    delete c.published.values["precision@1"];
    c.published.comparable = true;
    const html = renderMetrics(m);
    checkCbir(m, html);
    expect(html).toContain("0.765");
    expect(html).toContain("0.123");
    expect(byTestId(html, "cbir-published").find((x) => x["data-metric"] === "precision@1")?.["data-value"]).toBe("");
    expect(html).not.toContain("Not directly comparable.");
    // no label with a query image: the section says so, with no table
    c.macro = {};
    c.per_label = [];
    const empty = renderMetrics(m);
    expect(byTestId(empty, "cbir").length).toBe(0);
    expect(empty).toContain("No label has a query image");
  });

  it("still renders an older metrics.json without nDCG, R-precision or the CBIR protocol", () => {
    const old = withoutNewKeys(metricsFixture);
    const parsed = parseMetrics(JSON.parse(JSON.stringify(old)));
    expect(parsed.image_to_image.cbir).toBeUndefined();
    const html = renderMetrics(parsed);
    checkMetricsPage(parsed);
    expect(byTestId(html, "cbir-section").length).toBe(0);
    expect(html).not.toContain("nDCG@");
    expect(html).not.toContain("R-precision");
    expect(byTestId(html, "i2i-same-patient").length).toBe(1);
  });

  it("shows the random-weights banner when the file says so, and not otherwise", () => {
    expect(metricsFixture.evaluated.random_weights).toBe(true);
    const html = renderMetrics(metricsFixture);
    const banner = byTestId(html, "metrics-random-banner");
    expect(banner.length).toBe(1);
    expect(banner[0]?.["role"]).toBe("alert");
    expect(html).toContain("Random weights: results are meaningless");

    const real = clone(metricsFixture);
    real.evaluated.random_weights = false;
    real.evaluated.model.random_weights = false;
    real.evaluated.warning = null;
    const html2 = renderMetrics(real);
    expect(byTestId(html2, "metrics-random-banner").length).toBe(0);
    expect(html2).not.toContain("Random weights: results are meaningless");
  });

  it("takes every number from the file (changed values show up, no figure is hard-coded)", () => {
    const m = clone(metricsFixture);
    let n = 0;
    for (const tier of TIER_NAMES) {
      for (const f of Object.values(m.tiers[tier].metrics)) {
        n += 1;
        f.value = n / 1000;
        f.chance = n / 2000;
      }
    }
    for (const f of Object.values(m.image_to_image.metrics)) f.value = 0.987654;
    m.zero_shot_auc.chance = 0.4321;
    m.zero_shot_auc.mean_auc = null;
    const first = m.zero_shot_auc.labels[0];
    if (first) {
      first.auc = null;
      first.note = "AUC undefined: needs positive and negative images";
    }
    checkMetricsPage(m);
    const html = renderMetrics(m);
    expect(html).toContain("0.432");
    expect(html).toContain("AUC undefined: needs positive and negative images");
  });

  it("renders untrusted labels and queries as text", () => {
    const m = clone(metricsFixture);
    const row = m.per_label[0];
    if (row) row.label = EVIL;
    const z = m.zero_shot_auc.labels[0];
    if (z) z.label = EVIL;
    m.tiers.adjusted.excluded_queries = [EVIL];
    m.evaluated.model.title = EVIL;
    const c = m.image_to_image.cbir;
    if (c) {
      const first = c.per_label[0];
      if (first) first.label = EVIL;
      c.labels_without_queries = [EVIL];
      c.definition = EVIL;
      c.published.source = EVIL;
      c.published.caveat = EVIL;
      c.published.model = EVIL;
    }
    const html = renderMetrics(m);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain("<img src=x");
    expect(startTags(html).some((t) => "onerror" in t.attrs)).toBe(false);
  });

  it("labels the tier switcher as a radio group with every tier", () => {
    const html = renderMetrics(metricsFixture);
    expect(html).toMatch(/<fieldset[^>]*>\s*<legend[^>]*>Tier shown in the chart<\/legend>/);
    const radios = startTags(html).filter((t) => t.name === "input" && t.attrs["type"] === "radio");
    expect(radios.map((r) => r.attrs["value"])).toEqual([...TIER_NAMES]);
    expect(radios.filter((r) => "checked" in r.attrs).length).toBe(1);
  });

  it("uses th scope in every table", () => {
    const html = renderMetrics(metricsFixture) + renderHard(hardFixture);
    const ths = startTags(html).filter((t) => t.name === "th");
    expect(ths.length).toBeGreaterThan(0);
    for (const t of ths) expect(["col", "row"]).toContain(t.attrs["scope"]);
  });
});

describe("HardCasesPage (fixture)", () => {
  it("shows the summary, every case with thumbnails, and the confusion pairs", () => {
    checkHardPage(hardFixture);
  });

  it("escapes an injected label, query and file name", () => {
    const h = clone(hardFixture);
    const c = h.cases[0];
    expect(c).toBeDefined();
    if (!c) return;
    c.label = EVIL;
    c.query = EVIL;
    c.shared_group_labels = [EVIL];
    const r = c.retrieved[0];
    if (r) {
      r.labels = [EVIL, "Nodule"];
      r.filename = `${EVIL}.png`;
    }
    h.confusion_pairs.push({ query_label: EVIL, retrieved_label: EVIL, count: 1 });
    const html = renderHard(h);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(html).not.toContain("<img src=x");
    expect(startTags(html).some((t) => "onerror" in t.attrs)).toBe(false);
    // the only img tags are the thumbnails
    expect(startTags(html).filter((t) => t.name === "img").length).toBe(h.cases.flatMap((x) => x.retrieved).length);
    checkHardPage(h);
  });

  it("highlights recurring pairs only", () => {
    const h = clone(hardFixture);
    h.confusion_pairs.push({ query_label: "Hernia", retrieved_label: "Mass", count: 1 });
    const html = renderHard(h);
    const rows = byTestId(html, "confusion-pair");
    expect(rows.at(-1)?.["data-recurring"]).toBe("false");
    expect(rows.at(-1)?.["class"] ?? "").not.toContain("bg-amber");
    checkHardPage(h);
  });

  it("derives thumbnail paths from file names", () => {
    expect(thumbnailPathFor("00019534_000.png")).toBe("images/00019534_000.webp");
    expect(thumbnailPathFor("a.b.JPG")).toBe("images/a.b.webp");
    expect(thumbnailPathFor("noext")).toBe("images/noext.webp");
  });
});

describe("validators", () => {
  it("parseMetrics rejects a file without tiers, naming the field", () => {
    const m = clone(metricsFixture) as unknown as Record<string, unknown>;
    delete m["tiers"];
    expect(() => parseMetrics(m)).toThrow(/missing field "tiers"/);
  });

  it("parseMetrics names nested invalid fields", () => {
    const m = clone(metricsFixture) as unknown as { tiers: { strict: { metrics: Record<string, { value: unknown }> } } };
    const f = m.tiers.strict.metrics["hit@10"];
    if (f) f.value = "0.5";
    expect(() => parseMetrics(m)).toThrow(/"tiers\.strict\.metrics\.hit@10\.value" must be a number/);

    const m2 = clone(metricsFixture) as unknown as { tiers: { semantic: { metrics: Record<string, unknown> } } };
    delete m2.tiers.semantic.metrics["hit@20"];
    expect(() => parseMetrics(m2)).toThrow(/tiers\.semantic\.metrics\.hit@20/);

    expect(() => parseMetrics(null)).toThrow(/metrics\.json: must be a JSON object/);
    expect(() => parseMetrics({ ...metricsFixture, format: "other" })).toThrow(/"format"/);
    expect(() => parseMetrics({ ...metricsFixture, format_version: 2 })).toThrow(/format_version/);

    const m3 = clone(metricsFixture) as unknown as { image_to_image: { cbir: { macro: Record<string, unknown> } } };
    m3.image_to_image.cbir.macro["precision@10"] = { value: 0.5, ci95: [0.4], chance: 0.1 };
    expect(() => parseMetrics(m3)).toThrow(/"image_to_image\.cbir\.macro\.precision@10\.ci95" must be a \[low, high\]/);
    const m4 = clone(metricsFixture) as unknown as { image_to_image: { cbir: Record<string, unknown> } };
    delete m4.image_to_image.cbir["published"];
    expect(() => parseMetrics(m4)).toThrow(/missing field "image_to_image\.cbir\.published"/);
    const m5 = clone(metricsFixture) as unknown as { per_query: Record<string, unknown>[] };
    const rec = m5.per_query[0];
    if (rec) rec["r_precision"] = "high";
    expect(() => parseMetrics(m5)).toThrow(/"per_query\[0\]\.r_precision" must be a number/);
  });

  it("parseHardCases rejects bad files, naming the field", () => {
    const h = clone(hardFixture) as unknown as { cases: { verdict: string }[] };
    const c = h.cases[0];
    if (c) c.verdict = "maybe";
    expect(() => parseHardCases(h)).toThrow(/"cases\[0\]\.verdict"/);
    const h2 = clone(hardFixture) as unknown as Record<string, unknown>;
    delete h2["confusion_pairs"];
    expect(() => parseHardCases(h2)).toThrow(/missing field "confusion_pairs"/);
  });

  it("page sources never inject HTML", () => {
    const sections = readdirSync(new URL("../src/pages/metrics/", import.meta.url)).map((f) => `../src/pages/metrics/${f}`);
    for (const f of ["../src/pages/MetricsPage.tsx", "../src/pages/HardCasesPage.tsx", ...sections]) {
      expect(readFileSync(new URL(f, import.meta.url), "utf8")).not.toMatch(/dangerouslySetInnerHTML|innerHTML/);
    }
  });
});

// tests/test_evaluate.py points MEDMIR_METRICS_BUNDLE at a bundle it has just evaluated, so `make test` always
// runs this suite on what Python writes today.
const bundleDir = process.env["MEDMIR_METRICS_BUNDLE"];
const bundle = bundleDir
  ? pathToFileURL(bundleDir.endsWith("/") ? bundleDir : `${bundleDir}/`)
  : new URL("../../build/demo/bundle/", import.meta.url);
const haveBundle = existsSync(new URL("metrics.json", bundle)) && existsSync(new URL("hard_cases.json", bundle));

describe.runIf(haveBundle)("pages on a whole evaluated bundle (MEDMIR_METRICS_BUNDLE or build/demo/bundle)", () => {
  it("metrics.json", () => {
    checkMetricsPage(parseMetrics(readJson(new URL("metrics.json", bundle))));
  });
  it("hard_cases.json", () => {
    checkHardPage(parseHardCases(readJson(new URL("hard_cases.json", bundle))));
  });
});
