// What every page of the site shares: where the site lives, and its two contracts (from the search worker).
import type { IndexInfo, Manifest } from "../contracts/bundle";

/** The site's root URL, whatever sub-path it is served from. */
export const BASE = new URL("./", document.baseURI).href;

export interface SiteData {
  info: IndexInfo;
  manifest: Manifest;
}
