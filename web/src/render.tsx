// The app itself, loaded by main.tsx once the search worker is on its way.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

export function render(root: HTMLElement): void {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
