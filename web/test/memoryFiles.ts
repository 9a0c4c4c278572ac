// Bundle files served from memory for tests that open a collection: lib/storage/cache.ts's fetchVerified is mocked to
// read this map by file name
// (`vi.mock("../src/lib/storage/cache", () => import("./memoryFiles").then((m) => m.cacheModule))`).

export const files = new Map<string, Uint8Array>();

export const cacheModule = {
  fetchVerified: async (spec: { name: string }) => {
    const b = files.get(spec.name);
    if (!b) throw new Error(`no file ${spec.name} in the test`);
    return b;
  },
};

export const json = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));
export const fileList = (names: string[]) =>
  Object.fromEntries(names.map((n) => [n, { bytes: files.get(n)!.byteLength, sha256: "" }]));
export const progress = () => () => {};
export const BASE = "https://example.test/site/";
