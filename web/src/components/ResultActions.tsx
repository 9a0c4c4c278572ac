// A result card's refine buttons: + (relevant) and − (not relevant). The marks live in the URL (pos=12|40&neg=7,
// pages/search/refineParams.ts); the search page provides them and the toggle through RefineContext.
import { createContext, useContext } from "react";
import { visibleText } from "../lib/site/display";

export type MarkKind = "pos" | "neg";

export interface RefineState {
  pos: readonly number[];
  neg: readonly number[];
  toggle: (id: number, mark: MarkKind) => void;
}

export const RefineContext = createContext<RefineState | null>(null);

// the button the user pressed, focused again once the refined results are drawn (its card may have moved)
let focusAfterSearch: { id: number; mark: MarkKind } | null = null;

/** Focuses the mark button pressed before this search, if it is still shown; false when there is none. */
export function restoreMarkFocus(root: ParentNode): boolean {
  const want = focusAfterSearch;
  focusAfterSearch = null;
  if (!want) return false;
  const el = root.querySelector<HTMLElement>(`[data-result-id="${want.id}"] [data-mark="${want.mark}"]`);
  el?.focus();
  return Boolean(el);
}

const BASE = "rounded border px-2 py-0.5 font-medium";
const STYLE: Record<MarkKind, { on: string; off: string; text: string; help: string }> = {
  pos: {
    on: "border-emerald-800 bg-emerald-800 text-white",
    off: "border-slate-400 bg-white text-slate-800 hover:bg-emerald-50",
    text: "+ relevant",
    help: "Mark as relevant: the search moves toward this image",
  },
  neg: {
    on: "border-rose-800 bg-rose-800 text-white",
    off: "border-slate-400 bg-white text-slate-800 hover:bg-rose-50",
    text: "− not relevant",
    help: "Mark as not relevant: the search moves away from this image",
  },
};

export function ResultActions({ id, filename }: { id: number; filename: string }) {
  const refine = useContext(RefineContext);
  return (
    <div data-result-id={id} className="mt-2 flex flex-wrap gap-1 text-xs" role="group" aria-label={`Refine by ${visibleText(filename)}`}>
      {refine &&
        (["pos", "neg"] as const).map((m) => {
          const on = refine[m].includes(id);
          return (
            <button
              key={m}
              type="button"
              data-mark={m}
              aria-pressed={on}
              title={STYLE[m].help}
              className={`${BASE} ${on ? STYLE[m].on : STYLE[m].off}`}
              onClick={() => {
                focusAfterSearch = { id, mark: m };
                refine.toggle(id, m);
              }}
            >
              {STYLE[m].text}
            </button>
          );
        })}
    </div>
  );
}
