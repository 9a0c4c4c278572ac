// The facet filters of the search page (DICOM tag values: modality, body part, age band, ...): per facet a group of
// checkboxes with each value's count in the collection (and, once there are results, among them). Shown only for a
// collection with facets, or while the URL still chooses facet values (so a link from another bundle can be
// cleared). Names and values are plain text.
import { facetTitle, type FacetSelection, type FacetSummary } from "../lib/contracts/facets";
import { visibleText } from "../lib/site/display";

interface Props {
  facets: FacetSummary[];
  selected: FacetSelection;
  onChange: (name: string, values: string[]) => void;
  /** a value's count among the results shown; unset: no results to count */
  shown?: ((name: string, value: string) => number) | undefined;
}

/** A value's counts: "(total)", or "(among the results / total)" once there are results. */
export function Count({ total, shown }: { total: number; shown?: number | undefined }) {
  const all = total.toLocaleString("en-US");
  if (shown === undefined) return <span className="text-slate-500">({all})</span>;
  return (
    <span className="text-slate-500" title={`${shown} among the results shown, ${all} in the collection`} data-shown={shown} data-total={total}>
      ({shown.toLocaleString("en-US")} / {all})
    </span>
  );
}

export function FacetFilters({ facets, selected, onChange, shown: shownCount }: Props) {
  // values the URL chooses that the collection lacks are listed too (count 0), so they can be unticked
  const shown = facets.map((f) => ({ name: f.name, values: [...f.values] }));
  for (const [name, chosen] of Object.entries(selected)) {
    let f = shown.find((x) => x.name === name);
    if (!f && chosen.length) shown.push((f = { name, values: [] }));
    for (const v of chosen) if (f && !f.values.some((x) => x.value === v)) f.values.push({ value: v, count: 0 });
  }
  if (shown.length === 0) return null;

  return (
    <div className="mt-3 flex flex-wrap gap-3" data-testid="facet-filters">
      {shown.map((f) => {
        const chosen = selected[f.name] ?? [];
        return (
          <fieldset key={f.name} className="min-w-40 rounded border border-slate-200 p-2 text-xs" data-facet={f.name}>
            <legend className="px-1 font-medium wrap-anywhere">{visibleText(facetTitle(f.name))}</legend>
            <div className="max-h-40 overflow-y-auto">
              {f.values.map(({ value, count }) => (
                <label key={value} className="flex items-center gap-1.5 py-0.5">
                  <input
                    type="checkbox"
                    checked={chosen.includes(value)}
                    onChange={(e) => onChange(f.name, e.target.checked ? [...chosen, value] : chosen.filter((v) => v !== value))}
                  />
                  <span className="wrap-anywhere">{visibleText(value)}</span>
                  <Count total={count} shown={shownCount?.(f.name, value)} />
                </label>
              ))}
            </div>
          </fieldset>
        );
      })}
    </div>
  );
}
