// One image's entry in a bundle's metadata.json (docs/FORMAT.md):
// `{"format": "medmir-bundle", "count": N, "images": [MetadataEntry, ...]}`.

export interface MetadataEntry {
  id: number;
  /** The source file name: plain text, never markup. */
  filename: string;
  /** "images/<stem>.webp", relative to the bundle. */
  thumbnail: string;
  labels: string[];
  primary_label: string | null;
  report: string;
  patient_id: string | null;
  age: number | null;
  sex: string | null;
  view: string | null;
  /** Bundles built from DICOM: de-identified tag values by facet name (only the known ones; facets.ts). */
  facets?: Record<string, string>;
}

/** The bundle's thumbnail path for a source file name: `images/<filename without its extension>.webp`. */
export function thumbnailPathFor(filename: string): string {
  const stem = filename.replace(/\.[^./\\]*$/, "");
  return `images/${stem}.webp`;
}
