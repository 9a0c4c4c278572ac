export const TH_CLASS = "border-b border-slate-300 px-3 py-2 text-left font-semibold text-slate-900";

/** A table's column header row: every cell a `th scope="col"`, so screen readers can name the columns. */
export function TableHead({ columns }: { columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((c) => (
          <th key={c} scope="col" className={TH_CLASS}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}
