// The query box, its suggestions (the collection's precomputed queries) and the image picker.
import { useRef, type FormEvent } from "react";
import type { SearchClient } from "../../lib/protocol/searchClient";
import { COMPOSE_HELP } from "./ResultTools";

interface Props {
  client: SearchClient;
  text: string;
  setText: (t: string) => void;
  suggestions: string[];
  onSubmit: (e: FormEvent) => void;
  onFile: (f: File) => void;
}

export function SearchForm({ client, text, setText, suggestions, onSubmit, onFile }: Props) {
  const fileInput = useRef<HTMLInputElement>(null);
  return (
    <>
      <form onSubmit={onSubmit} role="search" className="flex flex-wrap gap-2">
        <label htmlFor="query" className="sr-only">
          Describe the findings to search for
        </label>
        <input
          id="query"
          name="q"
          list="suggestions"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="e.g. bilateral pleural effusion with cardiomegaly"
          className="min-w-72 flex-1 rounded border border-slate-300 px-3 py-2"
          autoComplete="off"
        />
        <datalist id="suggestions">
          {suggestions.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <button type="submit" className="rounded bg-sky-700 px-4 py-2 text-white hover:bg-sky-800 focus:outline-2">
          Search
        </button>
        <button
          type="button"
          onClick={() => {
            client.prepareVision(); // loads and warms the vision model while the user picks a file
            fileInput.current?.click();
          }}
          className="rounded border border-slate-300 bg-white px-4 py-2 hover:bg-slate-100"
        >
          Search with an image…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept="image/*,.dcm,application/dicom"
          aria-label="Upload an image to search with"
          data-testid="upload"
          className="sr-only"
          onChange={(e) => {
            const f = e.target.files?.[0];
            if (f) onFile(f);
            e.target.value = "";
          }}
        />
      </form>
      <p className="mt-1 text-xs text-slate-600">
        Or drop / paste an image (or a DICOM file) anywhere on this page. Images are processed in this browser and
        never uploaded.{" "}
        <span data-testid="upload-link-note">
          So a search with your own image cannot be put in a link: the link keeps the filters, not the image (it never
          leaves this device).
        </span>
      </p>
      <p className="mt-1 text-xs text-slate-600" data-testid="compose-help">
        {COMPOSE_HELP}
      </p>
    </>
  );
}
