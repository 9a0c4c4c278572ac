import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import type { Plugin } from "vite";

// The Content-Security-Policy of index.html forbids inline <style>, which Vite's dev server injects for hot reload:
// the dev server drops the policy; built sites (and every test) keep it.
const devWithoutCsp: Plugin = {
  name: "medmir-dev-without-csp",
  apply: "serve",
  transformIndexHtml: (html) => html.replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>\s*/i, ""),
};

// Relative base: the built site works from any static host and any sub-path.
export default defineConfig({
  base: "./",
  plugins: [react(), tailwindcss(), devWithoutCsp],
  worker: { format: "es" },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
  },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30000,
  },
});
