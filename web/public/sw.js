// medmir's service worker: after one visit the site works offline. Network first (so a rebuilt site shows up),
// falling back to what was cached. The model files and embeddings are not cached here: the search worker keeps
// verified copies in Cache Storage under their URL, which caches.match finds.
const SHELL = "medmir-shell-v1";
const WORKER_CACHED = /(\.onnx|embeddings\.bin)$/;

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

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET" || new URL(req.url).origin !== self.location.origin) return;
  event.respondWith(
    (async () => {
      try {
        const res = await fetch(req);
        if (res.ok && res.status === 200 && !WORKER_CACHED.test(new URL(req.url).pathname)) {
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
