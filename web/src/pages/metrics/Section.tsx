// One titled section of the Metrics page, labelled by its heading.
import type { ReactNode } from "react";

export function Section(props: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={props.id} className="space-y-3">
      <h2 id={props.id} className="text-xl font-semibold text-slate-900">
        {props.title}
      </h2>
      {props.children}
    </section>
  );
}
