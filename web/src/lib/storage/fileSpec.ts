// One file the site downloads, as the contracts list it: a leaf, so the store and the cache that both name files
// need not import each other.

export interface FileSpec {
  name: string;
  url: string;
  bytes: number;
  sha256: string;
}
