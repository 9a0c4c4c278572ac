import "./index.css";
import { BASE } from "./lib/site/site";
import { bootWorker } from "./lib/protocol/workerBoot";

const root = document.getElementById("root");
if (root) {
  // the worker first: it loads the model and the collection while the app's own code downloads and parses
  bootWorker(BASE);
  void import("./render").then((m) => m.render(root));
}

// Offline after the first visit (see public/sw.js); only in built sites, where the file exists.
if ("serviceWorker" in navigator && import.meta.env.PROD) {
  navigator.serviceWorker.register("./sw.js").catch(() => undefined);
}
