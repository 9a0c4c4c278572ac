// Score bands (lib/contracts/bands.ts, lib/results/confidence.ts): the kind of each search path, index_info parsing,
// and the result list's chips and "no confident match" notice, rendered to static markup (node, no DOM). The band of
// a score, "no confident match" and which score_bands values are refused are the parity table's cases
// (tests/fixtures/parity/bands.json, written from medmir.bundle.bands; run by parity.test.ts).
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { ConfidenceNotice } from "../src/components/ConfidenceNotice";
import { ResultList } from "../src/components/ResultList";
import { parseScoreBands, type ScoreBands } from "../src/lib/contracts/bands";
import { parseIndexInfo } from "../src/lib/contracts/bundle";
import type { SearchClient } from "../src/lib/protocol/searchClient";
import type { HitOut, RowInfo, SearchPath } from "../src/lib/protocol/messages";
import { bandsFor, bandTitle, queryKind } from "../src/lib/results/confidence";

const BANDS: ScoreBands = {
  image: { close: 0.95, similar: 0.9, related: 0.8 },
  text: { close: 0.4, similar: 0.3, related: 0.2 },
  method: "quantiles of this bundle's own scores",
};

const client = { thumbnailUrl: () => Promise.resolve(null) } as unknown as SearchClient;

function render(hits: HitOut[], bands: ReturnType<typeof bandsFor>): string {
  const rows: RowInfo[] = hits.map((h) => ({ filename: `img${h.id}.png`, labels: ["Effusion"], thumbnail: null }));
  return renderToStaticMarkup(createElement(ResultList, { hits, rows, client, bands }));
}

/** data-band of each result card, and the band chips' (data-band, title) pairs. */
function cards(html: string): { cardBands: (string | null)[]; chips: { band: string; title: string }[] } {
  const cardBands = [...html.matchAll(/<li data-testid="result"[^>]*?>/g)].map((m) => /data-band="([^"]*)"/.exec(m[0])?.[1] ?? null);
  const chips = [...html.matchAll(/<span data-testid="band" data-band="([^"]*)" title="([^"]*)"/g)].map((m) => ({
    band: m[1]!,
    title: m[2]!,
  }));
  return { cardBands, chips };
}

describe("bands", () => {
  it("reads text paths with the text bands and image paths with the image bands", () => {
    const kinds: Record<SearchPath, string | null> = {
      exact: "text",
      fuzzy: "text",
      live: "text",
      image: "image",
      row: "image",
      neighbors: "image",
      composed: null,
      refined: null,
    };
    for (const [path, kind] of Object.entries(kinds) as [SearchPath, string | null][]) {
      expect(queryKind(path), path).toBe(kind);
      const b = bandsFor(BANDS, path);
      if (kind === null) expect(b).toBeUndefined();
      else expect(b).toEqual({ kind, ...BANDS[kind as "image" | "text"] });
    }
    expect(bandsFor(BANDS, "live")).toBe(bandsFor(BANDS, "exact")); // the same object: memoised lists stay put
    expect(bandsFor(undefined, "live")).toBeUndefined();
    expect(bandsFor({ ...BANDS, image: null }, "neighbors")).toBeUndefined();
  });

  it("parses index_info score_bands, optional, and refuses malformed ones", () => {
    // the values JSON can hold are the parity table's; here what only a JavaScript value can be
    expect(parseScoreBands(undefined)).toBeUndefined();
    expect(parseScoreBands(BANDS)).toEqual(BANDS);
    for (const bad of [
      { ...BANDS, image: { close: Number.NaN, similar: 0.9, related: 0.8 } },
      { ...BANDS, image: { close: Number.POSITIVE_INFINITY, similar: 0.9, related: 0.8 } },
      { ...BANDS, image: undefined },
    ]) {
      expect(() => parseScoreBands(bad), JSON.stringify(bad)).toThrow(/score_bands/);
    }
    const info = {
      format: "medmir-bundle",
      format_version: 2,
      count: 3,
      dim: 4,
      dtype: "int8",
      model: {},
      files: { "metadata.json": {}, "fallback_results.json": {}, "scales.f32": {}, "thumbs.idx": {} },
    };
    expect(parseIndexInfo(info).score_bands).toBeUndefined(); // an older bundle
    expect(parseIndexInfo({ ...info, score_bands: BANDS }).score_bands).toEqual(BANDS);
    expect(() => parseIndexInfo({ ...info, score_bands: { ...BANDS, method: 1 } })).toThrow(/score_bands/);
  });

  it("explains a band with its threshold and where it comes from", () => {
    const t = bandTitle("similar", bandsFor(BANDS, "neighbors")!);
    expect(t).toContain("Similar (image queries): similarity ≥ 0.900");
    expect(t).toContain("this collection's own score distribution");
    expect(bandTitle("close", bandsFor(BANDS, "live")!)).toContain("Close match (text queries): similarity ≥ 0.400");
  });
});

describe("result list", () => {
  const hits: HitOut[] = [
    { id: 7, score: 0.41 },
    { id: 2, score: 0.35 },
    { id: 5, score: 0.25 },
    { id: 1, score: 0.1 },
  ];

  it("shows each result's band as a chip, nothing below related", () => {
    const html = render(hits, bandsFor(BANDS, "live"));
    const { cardBands, chips } = cards(html);
    expect(cardBands).toEqual(["close", "similar", "related", ""]);
    expect(chips.map((c) => c.band)).toEqual(["close", "similar", "related"]);
    expect(html).toContain(">close match</span>");
    expect(chips[0]!.title).toContain("text queries");
    expect(html).not.toContain('data-testid="low-confidence"');
  });

  it("reads the image bands for image queries", () => {
    const { cardBands } = cards(render(hits, bandsFor(BANDS, "image")));
    expect(cardBands).toEqual(["", "", "", ""]);
  });

  it("says 'no confident match' above results whose best is below related", () => {
    const html = render(hits, bandsFor(BANDS, "neighbors"));
    const notice = /<p role="status" data-testid="low-confidence"[^>]*>([^<]*)<\/p>/.exec(html);
    expect(notice).not.toBeNull();
    expect(notice![0]).toContain('data-kind="image"');
    expect(notice![0]).toContain('data-best="0.41"');
    expect(notice![0]).toContain('data-related="0.8"');
    expect(notice![1]).toContain("No confident match");
    expect(notice![1]).toContain("(0.410)");
    expect(notice![1]).toContain("image queries (0.800)");
    expect(html.indexOf("low-confidence")).toBeLessThan(html.indexOf('data-testid="result"'));
  });

  it("shows neither chips nor a notice without bands (other callers, older bundles, composed queries)", () => {
    for (const bands of [undefined, bandsFor(BANDS, "composed")]) {
      const html = render(hits, bands);
      expect(html).not.toContain('data-testid="band"');
      expect(html).not.toContain("data-band=");
      expect(html).not.toContain("low-confidence");
    }
    const rows: RowInfo[] = hits.map((h) => ({ filename: `img${h.id}.png`, labels: [], thumbnail: null }));
    const bare = renderToStaticMarkup(createElement(ResultList, { hits, rows, client })); // no bands prop at all
    expect(bare).not.toContain("data-band=");
    expect(bare.match(/data-testid="result"/g)?.length).toBe(4);
    expect(renderToStaticMarkup(createElement(ConfidenceNotice, { hits: [], bands: bandsFor(BANDS, "live") }))).toBe("");
  });
});
