// The filters, all in the URL (search/params.ts): labels (any of / must have / must not have), sex, view, an age
// range, DICOM tag facets and a minimum similarity. Next to each value: its count among the results shown (once
// there are results) and in the whole collection.
import { useId, type KeyboardEvent } from "react";
import { Count, FacetFilters } from "../../components/FacetFilters";
import { visibleText } from "../../lib/site/display";
import { hasFacetFilters, setFacetParam } from "../../lib/contracts/facets";
import type { ResultCounts } from "../../lib/results/resultCounts";
import type { ValueCount } from "../../lib/contracts/rowTable";
import type { Filters, ReadyInfo } from "../../lib/protocol/messages";
import { labelMode, setAgeParam, setLabelParam, setMinScoreParam, setValuesParam, type LabelMode } from "./params";

interface Props {
  ready: ReadyInfo | null;
  filters: Filters;
  go: (update: (p: URLSearchParams) => void) => void;
  /** counts over the results shown; null before any */
  shown?: ResultCounts | null;
}

const n = (l?: readonly unknown[]): number => l?.length ?? 0;

export function activeFilters(f: Filters): boolean {
  return (
    n(f.include) + n(f.all) + n(f.exclude) + n(f.sex) + n(f.view) > 0 ||
    f.ageMin !== undefined ||
    f.ageMax !== undefined ||
    f.minScore > -1 ||
    hasFacetFilters(f.facets)
  );
}

const MODES: { mode: LabelMode; text: string }[] = [
  { mode: "any", text: "any" },
  { mode: "include", text: "one of" },
  { mode: "all", text: "must have" },
  { mode: "exclude", text: "must not have" },
];

/** The values to offer: the collection's, then any the URL chooses that it lacks (count 0, so they can be cleared). */
function offered(values: readonly ValueCount[], chosen: readonly string[]): ValueCount[] {
  return [...values, ...chosen.filter((v) => !values.some((x) => x.value === v)).map((value) => ({ value, count: 0 }))];
}

function ValueChecks(props: {
  field: "sex" | "view";
  title: string;
  values: ValueCount[];
  chosen: readonly string[];
  shown: Map<string, number> | undefined;
  onChange: (values: string[]) => void;
}) {
  const { field, title, values, chosen, shown, onChange } = props;
  if (values.length === 0) return null;
  return (
    <fieldset className="min-w-32 rounded border border-slate-200 p-2 text-xs" data-field={field}>
      <legend className="px-1 font-medium">{title}</legend>
      {values.map(({ value, count }) => (
        <label key={value} className="flex items-center gap-1.5 py-0.5">
          <input
            type="checkbox"
            checked={chosen.includes(value)}
            onChange={(e) => onChange(e.target.checked ? [...chosen, value] : chosen.filter((v) => v !== value))}
          />
          <span className="wrap-anywhere">{visibleText(value)}</span>
          <Count total={count} shown={shown ? (shown.get(value) ?? 0) : undefined} />
        </label>
      ))}
    </fieldset>
  );
}

/** Age bounds: typed freely, applied on Enter or when the field loses focus (not a search per key). */
function AgeRange({ filters, ready, shown, go }: Pick<Props, "filters" | "ready" | "shown" | "go">) {
  const id = useId();
  const age = ready?.counts?.age ?? null;
  const set = filters.ageMin !== undefined || filters.ageMax !== undefined;
  if (!age && !set) return null;
  const min = filters.ageMin?.toString() ?? "";
  const max = filters.ageMax?.toString() ?? "";
  const apply = (which: "min" | "max", value: string) => {
    const [lo, hi] = which === "min" ? [value, max] : [min, value];
    if (lo !== min || hi !== max) go((p) => setAgeParam(p, lo, hi));
  };
  const field = (which: "min" | "max", value: string, label: string) => (
    <input
      key={`${which}:${value}`} // the URL changed: show its value
      type="number"
      min="0"
      step="1"
      defaultValue={value}
      placeholder={which === "min" ? "from" : "to"}
      aria-label={label}
      aria-describedby={`${id}-age-help`}
      onBlur={(e) => apply(which, e.target.value)}
      onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
        if (e.key === "Enter") apply(which, e.currentTarget.value);
      }}
      className="w-20 rounded border border-slate-300 p-1"
    />
  );
  return (
    <fieldset className="rounded border border-slate-200 p-2 text-xs" data-field="age">
      <legend className="px-1 font-medium">Age (years)</legend>
      <div className="flex items-center gap-1.5">
        {field("min", min, "Minimum age in years")}
        <span aria-hidden="true">–</span>
        {field("max", max, "Maximum age in years")}
      </div>
      <p id={`${id}-age-help`} className="mt-1 max-w-56 text-slate-600">
        {age ? `${age.min}–${age.max} in the collection; ` : ""}
        {age ? `${age.known.toLocaleString("en-US")} images have a known age` : "no image has a known age"}
        {shown ? ` (${shown.aged} of the ${shown.n} results)` : ""}. A range leaves out images of unknown age.
      </p>
    </fieldset>
  );
}

export function FilterPanel({ ready, filters, go, shown = null }: Props) {
  const active = activeFilters(filters);
  const counts = ready?.counts;
  const labelTotals = new Map((counts?.labels ?? []).map((c) => [c.value, c.count]));
  // DICOM collections have a `view` facet (the same tag): the facet's checkboxes are the view filter then
  const viewFacet = (ready?.facets ?? []).some((f) => f.name === "view");
  const sexValues = offered(counts?.sex ?? [], filters.sex ?? []);
  const viewValues = viewFacet && !n(filters.view) ? [] : offered(counts?.view ?? [], filters.view ?? []);
  return (
    <details className="mt-3 rounded border border-slate-200 bg-white p-3 text-sm" open={active}>
      <summary className="cursor-pointer font-medium">Filters{active ? " (active)" : ""}</summary>
      <p className="mt-1 text-xs text-slate-600">
        Labels: <b>one of</b> keeps images with at least one label so marked, <b>must have</b> those with every one,{" "}
        <b>must not have</b> those with none. Counts: {shown ? "(among the results shown / in the collection)" : "(in the collection)"}.
      </p>
      <div className="mt-2 grid grid-cols-2 gap-2 sm:grid-cols-3 lg:grid-cols-5">
        {(ready?.labels ?? []).map((l) => (
          <label key={l} className="flex min-w-0 flex-col text-xs" data-label={l}>
            <span className="wrap-anywhere">
              {visibleText(l)} <Count total={labelTotals.get(l) ?? 0} shown={shown ? (shown.labels.get(l) ?? 0) : undefined} />
            </span>
            <select
              value={labelMode(filters, l)}
              onChange={(e) => go((p) => setLabelParam(p, l, e.target.value as LabelMode))}
              className="rounded border border-slate-300 p-1"
            >
              {MODES.map((m) => (
                <option key={m.mode} value={m.mode}>
                  {m.text}
                </option>
              ))}
            </select>
          </label>
        ))}
      </div>
      <div className="mt-3 flex flex-wrap gap-3">
        <ValueChecks
          field="sex"
          title="Sex"
          values={sexValues}
          chosen={filters.sex ?? []}
          shown={shown?.sex}
          onChange={(v) => go((p) => setValuesParam(p, "sex", v))}
        />
        <ValueChecks
          field="view"
          title="View"
          values={viewValues}
          chosen={filters.view ?? []}
          shown={shown?.view}
          onChange={(v) => go((p) => setValuesParam(p, "view", v))}
        />
        <AgeRange filters={filters} ready={ready} shown={shown} go={go} />
      </div>
      <FacetFilters
        facets={ready?.facets ?? []}
        selected={filters.facets ?? {}}
        onChange={(name, values) => go((p) => setFacetParam(p, name, values, true))}
        shown={shown ? (name, value) => shown.facets.get(name)?.get(value) ?? 0 : undefined}
      />
      <label className="mt-3 flex items-center gap-2 text-xs">
        Minimum similarity
        <input
          type="number"
          step="0.01"
          min="-1"
          max="1"
          value={filters.minScore > -1 ? filters.minScore : ""}
          placeholder="none"
          onChange={(e) => go((p) => setMinScoreParam(p, e.target.value))}
          className="w-24 rounded border border-slate-300 p-1"
        />
      </label>
    </details>
  );
}
