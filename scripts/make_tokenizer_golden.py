"""Write tests/fixtures/tokenizer_golden.json from the reference tokenizer (open_clip HFTokenizer + HF tokenizers).

Run: .venv/bin/python scripts/make_tokenizer_golden.py [--vocab-dir ../shared/models/biomedclip]
The fixture is committed; tests/test_tokenizer_reference.py regenerates the ids live and fails on any drift.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tokenizer_reference import build_cases, reference_ids  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vocab-dir", type=Path, default=ROOT.parent / "shared" / "models" / "biomedclip")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "tokenizer_golden.json")
    args = ap.parse_args()

    import open_clip
    import tokenizers
    import transformers

    cases = build_cases(ROOT / "tests" / "fixtures" / "clinical_phrases.txt")
    rows = reference_ids(args.vocab_dir, cases)
    doc = {
        "about": "ids from the reference tokenizer; medmir's Python and TypeScript tokenizers must give `ids` exactly",
        "reference": {
            "open_clip": open_clip.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "vocab_sha256": hashlib.sha256((args.vocab_dir / "vocab.txt").read_bytes()).hexdigest(),
        "context_length": 256,
        "cases": rows,
    }
    args.out.write_text(json.dumps(doc, ensure_ascii=True, indent=1) + "\n", encoding="utf-8")
    diffs = sum(1 for r in rows if "reference_ids" in r)
    print(f"wrote {len(rows)} cases ({diffs} differ only by ftfy's mojibake repair) to {args.out}")


if __name__ == "__main__":
    main()
