// Range reads against a real HTTP server (Node's), one that honours Range and one that ignores it, counting what
// each request costs: parts by Range, else each whole file once, verified.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureParts } from "../src/lib/storage/parts";
import { RangeReader } from "../src/lib/storage/ranges";

const FILE = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function serve(ranges: boolean, log: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const range = ranges ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "") : null;
    log.push(`${req.url} ${range ? "part" : "whole"}`);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, { "content-range": `bytes ${a}-${b}/${FILE.length}`, "content-length": b - a + 1 });
      res.end(Buffer.from(FILE.subarray(a, b + 1)));
    } else {
      res.writeHead(200, { "content-length": FILE.length });
      res.end(Buffer.from(FILE));
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const spec = (server: Server, name: string, sha256 = sha(FILE)) => ({
  name,
  url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`,
  bytes: FILE.length,
  sha256,
});

describe("RangeReader", () => {
  const withRanges: string[] = [];
  const without: string[] = [];
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    a = await serve(true, withRanges);
    b = await serve(false, without);
  });
  afterAll(() => {
    a.close();
    b.close();
  });

  it("reads parts by Range where the host honours it", async () => {
    const r = new RangeReader();
    const parts = await Promise.all([[0, 9], [500, 1499], [99_990, 99_999]].map(([s, e]) => r.read(spec(a, "p.pack"), s!, e!)));
    expect(parts.map((p) => [...p])).toEqual([[...FILE.subarray(0, 10)], [...FILE.subarray(500, 1500)], [...FILE.subarray(99_990)]]);
    expect(withRanges).toEqual(["/p.pack part", "/p.pack part", "/p.pack part"]);
    await expect(r.read(spec(a, "p.pack"), 10, 100_000)).rejects.toThrow(/outside its 100000 bytes/);
  });

  it("falls back to each whole file once, verified, where the host ignores Range", async () => {
    const r = new RangeReader();
    const reads = [[0, 9], [500, 1499], [70_000, 70_001], [3, 3]].map(([s, e], i) => r.read(spec(b, i < 3 ? "x.pack" : "y.pack"), s!, e!));
    const parts = await Promise.all(reads);
    expect([...parts[2]!]).toEqual([...FILE.subarray(70_000, 70_002)]);
    expect([...parts[3]!]).toEqual([FILE[3]]);
    // the first request learns that Range is ignored; its whole answer is used, not fetched again
    expect(without.filter((l) => l.startsWith("/x.pack"))).toEqual(["/x.pack whole"]);
    expect(without.filter((l) => l.startsWith("/y.pack"))).toEqual(["/y.pack whole"]);
    await expect(new RangeReader().read(spec(b, "z.pack", "0".repeat(64)), 0, 1)).rejects.toThrow(/sha256 mismatch/);
  });
});

describe("RangeReader and files published in parts", () => {
  const log: string[] = [];
  let server: Server;
  const half = FILE.length / 2;
  beforeAll(async () => {
    // `big.pack` exists only as two parts listed in parts.json; `small.pack` is whole and honours Range
    server = createServer((req, res) => {
      log.push(req.url!);
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
      const part = { "/big.pack.part-000": FILE.subarray(0, half), "/big.pack.part-001": FILE.subarray(half) }[req.url!];
      if (req.url === "/parts.json") {
        res.end(JSON.stringify({ format: "medmir-parts", part_bytes: half, files: { "big.pack": { bytes: FILE.length, parts: ["big.pack.part-000", "big.pack.part-001"] } } }));
      } else if (part) {
        res.end(Buffer.from(part));
      } else if (req.url === "/small.pack" && range) {
        const [a, b] = [Number(range[1]), Number(range[2])];
        res.writeHead(206, { "content-range": `bytes ${a}-${b}/${FILE.length}` });
        res.end(Buffer.from(FILE.subarray(a, b + 1)));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    configureParts(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
  afterAll(() => {
    server.close();
    configureParts("http://127.0.0.1:1/"); // no other test reads parts
  });

  it("reads whole files by Range without asking for parts.json", async () => {
    const got = await new RangeReader().read(spec(server, "small.pack"), 5, 9);
    expect([...got]).toEqual([...FILE.subarray(5, 10)]);
    expect(log).toEqual(["/small.pack"]);
  });

  it("reads a split file whole from its parts, verified, each part once", async () => {
    const r = new RangeReader();
    const got = await Promise.all([r.read(spec(server, "big.pack"), half - 2, half + 1), r.read(spec(server, "big.pack"), 0, 0)]);
    expect([...got[0]!]).toEqual([...FILE.subarray(half - 2, half + 2)]);
    expect([...got[1]!]).toEqual([FILE[0]]);
    expect(log.slice(1)).toEqual(["/big.pack", "/parts.json", "/big.pack.part-000", "/big.pack.part-001"]);
  });
});

