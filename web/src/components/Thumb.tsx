import { useEffect, useState } from "react";

/** An image whose URL may come later (a thumbnail the search worker reads from its pack); a placeholder until then,
 * and a plain note when it cannot be had. */
export function Thumb({ url, alt, className }: { url: () => Promise<string | null>; alt: string; className: string }) {
  const [src, setSrc] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    setSrc(undefined);
    url().then(
      (u) => live && setSrc(u),
      () => live && setSrc(null),
    );
    return () => {
      live = false;
    };
  }, [url]);
  if (src === null)
    return (
      <div role="img" aria-label={alt} className={`${className} flex items-center justify-center text-xs text-slate-300`}>
        thumbnail unavailable
      </div>
    );
  if (src === undefined) return <div role="img" aria-label={alt} aria-busy="true" className={className} />;
  return <img src={src} alt={alt} loading="lazy" className={className} />;
}
