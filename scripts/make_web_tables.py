"""Write web/src/worker/model/tokenizerTables.json: the data the browser tokenizer needs to match medmir's Python
tokenizer.

Run: .venv/bin/python scripts/make_web_tables.py
The file is committed; tests/test_web_tables.py fails if regenerating it gives anything else.

Everything comes from the same sources the Python side uses at run time (ftfy, html, unicodedata of Python 3.11 =
Unicode 14.0.0, medmir.model.tokenizer), so the TypeScript port never depends on the browser's own Unicode tables
(JS regex properties and toLowerCase follow whatever Unicode version the engine ships). The one thing taken from the
engine is String.prototype.normalize, applied only to runs of characters Python knows (see tokenizer.ts).

Ranges are delta-encoded flat lists: [lo0, hi0 - lo0, lo1 - hi0, hi1 - lo1, ...] (inclusive bounds).
"""

from __future__ import annotations

import html
import html.entities
import inspect
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import ftfy
import ftfy.chardata as chardata
import ftfy.fixes as fixes

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "web" / "src" / "worker" / "model" / "tokenizerTables.json"
sys.path.insert(0, str(ROOT / "src"))

from medmir.model import tokenizer as medmir_tok  # noqa: E402

MAX_CP = 0x10FFFF
UNICODE_VERSION = "14.0.0"

# The TypeScript port hard-codes the structure of these patterns and the order of ftfy's fixers; if a new ftfy or
# Python changes them, the port must be revisited, so regenerating fails instead of silently drifting.
_EXPECTED_PATTERNS = {
    "html._charref": (html._charref.pattern, r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)"),  # type: ignore[attr-defined]
    "ftfy HTML_ENTITY_RE": (chardata.HTML_ENTITY_RE.pattern, r"&#?[0-9A-Za-z]{1,24};"),
    "ftfy C1_CONTROL_RE": (chardata.C1_CONTROL_RE.pattern, r"[\x80-\x9f]"),
    "ftfy ANSI_RE": (fixes.ANSI_RE.pattern, "\033\\[((?:\\d|;)*)([a-zA-Z])"),
    "ftfy SURROGATE_RE": (fixes.SURROGATE_RE.pattern, "[\ud800-\udfff]"),
}
_EXPECTED_FIXER_ORDER = (
    '"fix_c1_controls", "fix_latin_ligatures", "fix_character_width", "uncurl_quotes", "fix_line_breaks", '
    '"fix_surrogates", "remove_terminal_escapes", "remove_control_chars",'
)


def _check_sources() -> None:
    if unicodedata.unidata_version != UNICODE_VERSION:
        raise SystemExit(f"unicodedata is {unicodedata.unidata_version}, the tables are for {UNICODE_VERSION}")
    for name, (got, want) in _EXPECTED_PATTERNS.items():
        if got != want:
            raise SystemExit(f"{name} changed: {got!r} (tokenizer.ts assumes {want!r})")
    src = " ".join(inspect.getsource(ftfy.fix_and_explain).split())
    if _EXPECTED_FIXER_ORDER not in src or "normalize(config.normalization" not in src:
        raise SystemExit("ftfy.fix_and_explain changed its fixers or their order; revisit tokenizer.ts")
    if ftfy.TextFixerConfig().max_decode_length != 1_000_000:
        raise SystemExit("ftfy's max_decode_length changed; revisit tokenizer.ts")


def _ranges(cps: Iterable[int]) -> list[int]:
    """Sorted code points -> delta-encoded inclusive ranges."""
    out: list[int] = []
    prev_hi = 0
    lo = hi = -2
    for cp in sorted(set(cps)):
        if cp == hi + 1:
            hi = cp
            continue
        if lo >= 0:
            out += [lo - prev_hi, hi - lo]
            prev_hi = hi
        lo = hi = cp
    if lo >= 0:
        out += [lo - prev_hi, hi - lo]
    return out


def _where(pred: Callable[[int], bool]) -> list[int]:
    return _ranges(cp for cp in range(MAX_CP + 1) if pred(cp))


def _lowercase() -> dict[str, Any]:
    """Python's per-character str.lower(), as runs [start, count, step, delta] plus the multi-character cases."""
    single: list[tuple[int, int]] = []
    multi: dict[str, str] = {}
    for cp in range(MAX_CP + 1):
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        if len(low) == 1:
            single.append((cp, ord(low) - cp))
        else:
            multi[str(cp)] = low
    runs: list[list[int]] = []
    for cp, delta in single:
        if runs:
            start, count, step, d = runs[-1]
            last = start + (count - 1) * step
            gap = cp - last
            if d == delta and ((count == 1 and gap in (1, 2)) or (count > 1 and gap == step)):
                runs[-1] = [start, count + 1, gap, d]
                continue
        runs.append([cp, 1, 1, delta])
    flat: list[int] = []
    prev = 0
    for start, count, step, d in runs:
        flat += [start - prev, count, step, d]
        prev = start
    return {"runs": flat, "multi": multi}


def _translate_map(table: dict[int, str | None]) -> dict[str, str]:
    return {str(cp): ("" if v is None else v) for cp, v in sorted(table.items())}


def build() -> dict[str, Any]:
    _check_sources()
    html5: dict[str, str] = html.entities.html5  # type: ignore[attr-defined]
    # html5 names end in ";" except the legacy ones, which repeat the value of the ";" form.
    named = {n[:-1]: v for n, v in html5.items() if n.endswith(";")}
    legacy = sorted(n for n in html5 if not n.endswith(";"))
    assert all(html5[n] == named[n] for n in legacy)
    # ftfy's table is "&" + every ";" name plus upper-cased variants of all-lowercase names; most variants keep the
    # value of the lowercase name, so only the names are listed, and the values only where upper-casing changed them.
    upper_same: list[str] = []
    upper_other: dict[str, str] = {}
    for key, val in chardata.HTML_ENTITIES.items():
        name = key[1:-1]
        if named.get(name) == val:
            continue
        assert key.endswith(";") and name == name.upper(), key
        if named.get(name.lower()) == val:
            upper_same.append(name)
        else:
            upper_other[name] = val
    derived = {"&" + n + ";": v for n, v in named.items()}
    derived |= {"&" + n + ";": named[n.lower()] for n in upper_same}
    derived |= {"&" + n + ";": v for n, v in upper_other.items()}
    assert derived == chardata.HTML_ENTITIES, "ftfy's HTML_ENTITIES is not html5 plus upper-case variants"

    c1 = bytes(range(0x80, 0xA0)).decode("sloppy-windows-1252")
    assert all(fixes.fix_c1_controls(chr(b)) == c1[b - 0x80] for b in range(0x80, 0xA0))

    cats = [unicodedata.category(chr(cp)) for cp in range(MAX_CP + 1)]
    digit = re.compile(r"\d")  # what ftfy's ANSI_RE means by \d on str: Unicode decimal digits
    return {
        "about": "generated by scripts/make_web_tables.py from Python's ftfy, html and unicodedata; do not edit",
        "unicode_version": unicodedata.unidata_version,
        "ftfy_version": ftfy.__version__,
        "range_encoding": "delta: [lo0, hi0-lo0, lo1-hi0, hi1-lo1, ...], inclusive",
        "html5": dict(sorted(named.items())),
        "html5_legacy": " ".join(legacy),
        "ftfy_upper_same": " ".join(sorted(upper_same)),
        "ftfy_upper_other": dict(sorted(upper_other.items())),
        "invalid_charrefs": {str(k): v for k, v in sorted(html._invalid_charrefs.items())},  # type: ignore[attr-defined]
        "invalid_codepoints": _ranges(html._invalid_codepoints),  # type: ignore[attr-defined]
        "c1_windows_1252": [ord(ch) for ch in c1],
        "ligatures": _translate_map(chardata.LIGATURES),
        "width_map": _translate_map(chardata.WIDTH_MAP),  # type: ignore[arg-type]
        "control_chars": _ranges(chardata.CONTROL_CHARS),
        "single_quotes": _where(lambda cp: chardata.SINGLE_QUOTE_RE.fullmatch(chr(cp)) is not None),
        "double_quotes": _where(lambda cp: chardata.DOUBLE_QUOTE_RE.fullmatch(chr(cp)) is not None),
        "decimal_digits": _where(lambda cp: digit.fullmatch(chr(cp)) is not None),
        "py_isspace": _where(lambda cp: chr(cp).isspace()),
        "white_space": _ranges(ord(c) for c in medmir_tok.WHITE_SPACE),
        "cjk": _ranges(cp for lo, hi in medmir_tok.CJK_RANGES for cp in range(lo, hi + 1)),
        # C* = Cn plus these few ranges; Cn alone is needed to keep unassigned characters away from normalize().
        "cat_cn": _where(lambda cp: cats[cp] == "Cn"),
        "cat_cc_cf_co_cs": _where(lambda cp: cats[cp] in ("Cc", "Cf", "Co", "Cs")),
        "cat_p": _where(lambda cp: cats[cp][0] == "P"),
        "cat_mn": _where(lambda cp: cats[cp] == "Mn"),
        "lower": _lowercase(),
    }


def render(tables: dict[str, Any]) -> str:
    return json.dumps(tables, ensure_ascii=False, separators=(",", ":")) + "\n"


def main() -> None:
    text = render(build())
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text.encode('utf-8'))} bytes)")


if __name__ == "__main__":
    main()
