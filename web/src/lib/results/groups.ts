// Patient-aware results: a result card stands for a patient's best-scoring image, the patient's other images among
// the results fetched folded under it ("+N more images of this patient"). NIH has 30,805 patients for 112,120
// images: without this, a patient's follow-ups fill the first page. Ranks stay the flat ranking's: a group's rank is
// its best image's, and an unfolded image shows its own.
import type { HitOut, RowInfo } from "../protocol/messages";

/** One result with its rank in the flat list (1 = best). */
export interface Ranked {
  hit: HitOut;
  row: RowInfo;
  rank: number;
}

export interface PatientGroup {
  /** the patient id, or for an image of unknown patient (or with grouping off) a key of its own */
  key: string;
  /** the patient's best image: its rank is the group's */
  lead: Ranked;
  /** the patient's other images among the results, best first */
  more: Ranked[];
}

/**
 * The results grouped by patient, groups in the order of their best image (hits come best first). Images whose
 * patient is unknown stand alone; `on` false: every image stands alone (the flat list). Rows missing for a hit
 * (none should be) leave it out.
 */
export function groupByPatient(hits: readonly HitOut[], rows: readonly (RowInfo | undefined)[], on = true): PatientGroup[] {
  const groups: PatientGroup[] = [];
  const byPatient = new Map<string, PatientGroup>();
  hits.forEach((hit, i) => {
    const row = rows[i];
    if (!row) return;
    const r: Ranked = { hit, row, rank: i + 1 };
    const p = on ? (row.patient ?? "") : "";
    const g = p ? byPatient.get(p) : undefined;
    if (g) {
      g.more.push(r);
      return;
    }
    const ng: PatientGroup = { key: p ? `patient:${p}` : `image:${i}:${hit.id}`, lead: r, more: [] };
    if (p) byPatient.set(p, ng);
    groups.push(ng);
  });
  return groups;
}

/** Whether grouping changes anything: two results of one known patient. */
export function hasSharedPatients(rows: readonly (RowInfo | undefined)[]): boolean {
  const seen = new Set<string>();
  for (const r of rows) {
    const p = r?.patient;
    if (!p) continue;
    if (seen.has(p)) return true;
    seen.add(p);
  }
  return false;
}

/** "+1 more image of this patient", "+3 more images of this patient" */
export function moreText(n: number): string {
  return `+${n} more image${n === 1 ? "" : "s"} of this patient`;
}
