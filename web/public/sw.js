// medmir's service worker: after one visit the site works offline. Network first (so a rebuilt site shows up),
// falling back to what was cached. It precaches the app shell and the two small contracts (precache.json). Bundle and
// model files are not cached here: the search worker downloads each once, verifies its sha256 and keeps it on the
// device itself (web/src/lib/storage/fileStore.ts; a second copy here would double the storage, and precaching them doubled
// the download). The contracts, which the worker always asks the network for first, are refreshed as they pass.
const SHELL = "medmir-shell-v3";
const WORKER_CACHED = /\/(data|model)\/(?!index_info\.json$|manifest\.json$)[^/]+$/;
// The build's assets/ are named by their content: served from Cache Storage first (Chromium keeps the compiled code
// of scripts it serves from there). onnxruntime-web's runtime (ort/FILE?v=VERSION, asked for by the search worker):
// online, left to the browser's HTTP cache, which keeps the compiled WebAssembly with it from the first visit on; a
// response this worker passes on from the network never has its compiled code kept, so every visit compiled
// onnxruntime-web again and ran its first queries on unoptimised code (docs/PERFORMANCE.md). Its copy here (precached
// under the same URL, else kept on first use) answers offline visits.
const IMMUTABLE = /\/assets\/[^/?]+$/;
const RUNTIME = /\/ort\/[^/?]+\?v=[^/?&]+$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const res = await fetch("precache.json", { cache: "no-store" });
      const list = res.ok ? await res.json() : { files: [] };
      const cache = await caches.open(SHELL);
      await cache.addAll(list.files);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) =>
  event.waitUntil(
    (async () => {
      // earlier versions of this worker's own shell cache (never the search worker's files)
      for (const name of await caches.keys()) if (name.startsWith("medmir-shell-") && name !== SHELL) await caches.delete(name);
      await self.clients.claim();
    })(),
  ),
);

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== self.location.origin) return;
  if (RUNTIME.test(url.pathname + url.search)) {
    if (self.navigator.onLine === false) event.respondWith(caches.match(req).then((hit) => hit ?? fetch(req)));
    else event.waitUntil(cacheFirst(req.url)); // answered by the HTTP cache; kept here once per version
    return;
  }
  if (IMMUTABLE.test(url.pathname) && !req.headers.has("range")) {
    event.respondWith(cacheFirst(req.url));
    return;
  }
  event.respondWith(
    (async () => {
      try {
        const res = await fetch(req);
        if (res.status === 200 && !req.headers.has("range") && !WORKER_CACHED.test(new URL(req.url).pathname)) {
          const copy = res.clone();
          caches.open(SHELL).then((c) => c.put(req, copy)).catch(() => undefined);
        }
        return res;
      } catch (err) {
        const hit = await caches.match(req);
        if (hit) return hit;
        if (req.mode === "navigate") {
          const index = await caches.match(new URL("index.html", self.registration.scope).href);
          if (index) return index;
        }
        throw err;
      }
    })(),
  );
});

/** The cached copy of `url`, else the network's, kept when it is whole (status 200). */
async function cacheFirst(url) {
  const cache = await caches.open(SHELL);
  const hit = await cache.match(url);
  if (hit) return hit;
  const res = await fetch(url);
  if (res.status === 200) await cache.put(url, res.clone()).catch(() => undefined);
  return res;
}
