"""Full-size BiomedCLIP pack (random weights, real shapes): sizes, export time, parity, `model check`.

Run: make export-bench   (writes benchmarks/results/export_full.json and the table in docs/QUANTIZATION.md)
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import ROOT, machine, read_result, replace_block, write_result

DOC = ROOT / "docs" / "QUANTIZATION.md"
CONFIG = ROOT.parent / "shared" / "models" / "biomedclip"


def render(r: dict) -> str:
    t = r["targets_bytes"]
    lines = [
        f"Measured {r['measured_at']} on {r['machine']['cpu']} ({r['machine']['cores']} cores). "
        f"`init-random` {r['init_random_seconds']} s, `model export` {r['export_seconds']} s "
        f"({', '.join(f'{k} {v} s' for k, v in r['step_seconds'].items())}), `model check` {r['check_seconds']} s "
        f"({'all checks pass' if r['check_ok'] else 'CHECK FAILED'}). {r['parameters']:,} parameters.",
        "",
        "| file | MB | target MB |",
        "|---|---|---|",
    ]
    for name, meta in r["files"].items():
        target = f"<= {t[name] / 1e6:.0f}" if name in t else ""
        lines.append(f"| {name} | {meta['bytes'] / 1e6:.1f} | {target} |")
    lines += ["", "| parity figure (export time) | min cosine | mean cosine | n |", "|---|---|---|---|"]
    for key, v in r["parity"].items():
        if isinstance(v, dict) and "min_cosine" in v:
            lines.append(f"| {key} | {v['min_cosine']:.6f} | {v['mean_cosine']:.6f} | {v['n']} |")
    return "\n".join(lines)


def main() -> None:
    from medmir.model.checkpoint import init_random
    from medmir.model.config import model_definition
    from medmir.model.export import export_pack
    from medmir.model.pack import check_pack

    if "--render-only" not in sys.argv:
        with tempfile.TemporaryDirectory(prefix="medmir-bench-", dir=ROOT / "build") as tmp:
            t = time.perf_counter()
            info = init_random(CONFIG, Path(tmp) / "ckpt", size="full")
            t_init = time.perf_counter() - t
            m = export_pack(str(Path(tmp) / "ckpt"), Path(tmp) / "pack")
            t = time.perf_counter()
            checks = check_pack(Path(tmp) / "pack")
            t_check = time.perf_counter() - t
        write_result(
            "export_full",
            {
                "measured_at": dt.date.today().isoformat(),
                "machine": machine(),
                "parameters": info["parameters"],
                "init_random_seconds": round(t_init, 1),
                "export_seconds": m["export"]["seconds"],
                "step_seconds": m["export"]["step_seconds"],
                "check_seconds": round(t_check, 1),
                "check_ok": all(c.ok for c in checks),
                "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
                "files": m["files"],
                "targets_bytes": model_definition("biomedclip")["size_targets_bytes"],
                "parity": m["parity"],
                "versions": m["export"]["versions"],
            },
        )
    r = read_result("export_full")
    replace_block(DOC, "export-full", render(r))
    print(render(r))


if __name__ == "__main__":
    main()
