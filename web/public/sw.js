// medmir's service worker: after one visit the site works offline. Network first (so a rebuilt site shows up),
// falling back to what was cached. It precaches the app shell only (precache.json). Bundle and model files are not
// cached here: the search worker downloads each once, verifies its sha256 and keeps it in Cache Storage under its
// URL, which caches.match finds (a second copy here would double the storage, and precaching them doubled the
// download). Only the two small contracts, which the worker always asks the network for first, are kept here.
const SHELL = "medmir-shell-v2";
const WORKER_CACHED = /\/(data|model)\/(?!index_info\.json$|manifest\.json$)[^/]+$/;

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
  if (req.method !== "GET" || new URL(req.url).origin !== self.location.origin) return;
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
