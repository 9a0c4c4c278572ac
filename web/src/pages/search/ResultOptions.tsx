// Above the results: group them by patient (the default), and for a query by a collection image (Find similar,
// Search with this image) whether that image's patient's other images may be among them (by default they are left
// out: a patient's own follow-ups are the least informative "similar" images). Both in the URL (search/params.ts).
import { hasSharedPatients } from "../../lib/results/groups";
import type { RowInfo } from "../../lib/protocol/messages";

interface Props {
  rows: readonly RowInfo[];
  grouped: boolean;
  onGrouped: (on: boolean) => void;
  /** a query by a collection row: whether its patient's other images are included; null for other queries */
  samePatient: boolean | null;
  onSamePatient: (on: boolean) => void;
}

export function ResultOptions({ rows, grouped, onGrouped, samePatient, onSamePatient }: Props) {
  const patients = new Set(rows.map((r) => r.patient).filter(Boolean)).size;
  const known = rows.some((r) => r.patient);
  if (!known && samePatient === null) return null;
  return (
    <div className="mt-4 flex flex-wrap items-center gap-x-5 gap-y-1 text-sm" data-testid="result-options">
      {known && (
        <label className="flex items-center gap-1.5">
          <input type="checkbox" data-testid="group-toggle" checked={grouped} onChange={(e) => onGrouped(e.target.checked)} />
          Group by patient
          <span className="text-slate-600">
            ({rows.length} {rows.length === 1 ? "image" : "images"} of {patients} {patients === 1 ? "patient" : "patients"}
            {grouped && hasSharedPatients(rows) ? "; a card stands for a patient's best image" : ""})
          </span>
        </label>
      )}
      {samePatient !== null && (
        <label className="flex items-center gap-1.5">
          <input
            type="checkbox"
            data-testid="same-patient-toggle"
            checked={samePatient}
            onChange={(e) => onSamePatient(e.target.checked)}
          />
          Include this patient's other images
          {!samePatient && <span className="text-slate-600">(left out now)</span>}
        </label>
      )}
    </div>
  );
}
