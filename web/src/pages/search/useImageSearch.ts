// Searching with the user's own image (picked, dropped or pasted): decoded in this page, previewed, searched, and
// the URL moved to "the uploaded image" (img=1) so marks and added words start from it.
import { useEffect, useState, type MutableRefObject } from "react";
import { namedDicom } from "../../lib/image/dicom/detect";
import { decodeUpload, previewUrl } from "../../lib/image/upload";
import type { Filters } from "../../lib/protocol/messages";
import type { SearchClient } from "../../lib/protocol/searchClient";
import { setImageBase } from "./refineParams";
import type { SearchRun } from "./useSearchRun";

export interface Upload {
  url: string;
  name: string;
}

interface Options {
  client: SearchClient;
  params: URLSearchParams;
  navigate: (p: URLSearchParams) => void;
  /** how many results to ask for, and among which */
  k: number;
  filters: Filters;
  searchRun: SearchRun;
  /** set to the URL the search moves to, so useUrlSearch does not search it again */
  skipSearch: MutableRefObject<string | null>;
}

export function useImageSearch({ client, params, navigate, k, filters, searchRun, skipSearch }: Options) {
  const [upload, setUpload] = useState<Upload | null>(null);
  const { run, fail, clearError } = searchRun;

  async function searchFile(file: File) {
    clearError();
    const key = `image:${file.name}`;
    try {
      const img = await decodeUpload(file);
      if (upload) URL.revokeObjectURL(upload.url);
      setUpload({ url: await previewUrl(file, img), name: file.name });
      await run(key, async () => {
        const r = await client.searchImage(img.rgba, img.width, img.height, k, filters);
        // the URL now says "the uploaded image" (img=1): marks and added words start from it
        const p = new URLSearchParams(params);
        setImageBase(p);
        if (p.toString() !== params.toString()) {
          skipSearch.current = p.toString();
          navigate(p);
        }
        return r;
      });
    } catch (e) {
      fail(key, e);
    }
  }

  useEffect(() => {
    const onPaste = (ev: ClipboardEvent) => {
      const f = [...(ev.clipboardData?.files ?? [])].find((x) => x.type.startsWith("image/") || namedDicom(x.name, x.type));
      if (f) void searchFile(f);
    };
    window.addEventListener("paste", onPaste);
    return () => window.removeEventListener("paste", onPaste);
  });

  return { upload, searchFile };
}
