"""Write web/test/fixtures/tokenizer_fuzz.json: seeded random strings and the ids medmir's Python tokenizer gives.

Run: .venv/bin/python scripts/make_tokenizer_fuzz.py
The browser tokenizer (web/src/worker/model/tokenizer.ts) must give the same ids (web/test/tokenizer.test.ts); the file
is committed and tests/test_web_tables.py fails if regenerating it gives anything else.

The strings mix pieces of the golden texts with the inputs where a port is most likely to slip: HTML references
(valid, invalid, unterminated, upper-cased, nested, after a "<"), C0/C1 controls, terminal escapes (with non-ASCII
digits), ligatures, full/half-width forms, curly quotes, line breaks, combining marks and Hangul jamo (NFC/NFD),
characters whose lower case differs across Unicode versions, code points unassigned in Unicode 14 (some assigned
later), private use, lone surrogates, emoji sequences, CJK, special tokens and words near the 100-character limit.
"""

from __future__ import annotations

import hashlib
import html.entities
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "web" / "test" / "fixtures" / "tokenizer_fuzz.json"
VOCAB = ROOT.parent / "shared" / "models" / "biomedclip" / "vocab.txt"
GOLDEN = ROOT / "tests" / "fixtures" / "tokenizer_golden.json"
SEED = 20250611
COUNT = 2000
sys.path.insert(0, str(ROOT / "src"))

from medmir.model.tokenizer import WordPieceTokenizer  # noqa: E402


def _chars(*ranges: tuple[int, int]) -> list[str]:
    return [chr(cp) for lo, hi in ranges for cp in range(lo, hi + 1) if not 0xD800 <= cp <= 0xDFFF]


ASCII_WORDS = ["effusion", "pleural", "cardiomegaly", "opacity", "nodule", "mass", "CT", "MRI", "x-ray", "5mm", "T2"]
ASCII_WORDS += ["Left", "RIGHT", "lobe", "the", "of"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + list("–—…‘’‚‛“”„‟«»¿¡·•†‡§¶°′″‰‹›※⁂、。「」")
ACCENTED = _chars((0xC0, 0x24F), (0x1E00, 0x1EFF)) + list("İıŞşßẞŉǅǈǋǲΣσςΆΈΐΰЁЙйѐ")
COMBINING = _chars((0x300, 0x36F), (0x1AB0, 0x1ACE), (0x1DC0, 0x1DFF), (0x20D0, 0x20F0))
CASE_EDGES = _chars((0x10A0, 0x10FF), (0x1C90, 0x1CBF), (0x13A0, 0x13FD), (0xAB70, 0xABBF), (0x10400, 0x1044F)) + list(
    "ΩKÅℌℍⅫⅻⓐⒶꞫꞮꟅ"
)
GREEK_UNITS = [*"αβγδµμΩ℃°²³½¼①⑳㎏㎎㎖ℓ№™", "10³", "5 µg", "37.5°C", "1/2", "½"]
CJK = _chars((0x4E00, 0x4E80), (0x9F00, 0x9FFF), (0x3400, 0x3420), (0xF900, 0xFAFF), (0x2F800, 0x2F830))
CJK += _chars((0x20000, 0x20030), (0x3040, 0x30FF), (0xFF61, 0xFF9F), (0xFF01, 0xFF5E), (0x3000, 0x3003))
HANGUL = _chars((0xAC00, 0xAC40), (0x1100, 0x1112), (0x1161, 0x1175), (0x11A8, 0x11C2))
EMOJI = _chars((0x1F300, 0x1F330), (0x1F600, 0x1F64F), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF))
EMOJI += ["\u200d", "\ufe0f", "\ufe0e", "\U0001f3fb", "\U0001f3ff", "\U0001f1fa\U0001f1f8", "1\ufe0f\u20e3"]
EMOJI += ["\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f", "\U0001f469\u200d\U0001f52c"]
CONTROL = _chars((0x00, 0x1F), (0x7F, 0x9F), (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x206F))
CONTROL += _chars((0xFFF9, 0xFFFF), (0xFDD0, 0xFDEF), (0x1D173, 0x1D17A), (0xE0000, 0xE0002), (0xE0020, 0xE0030))
CONTROL += ["\ufeff", "\xad", "\u061c", "\u180e", "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\U0010ffff"]
# Unassigned in Unicode 14; several are assigned (some as combining marks) in the Unicode a browser ships.
UNASSIGNED = _chars((0x0378, 0x0379), (0x10EFD, 0x10EFF), (0x1E08F, 0x1E08F), (0x11F00, 0x11F05), (0x11F41, 0x11F42))
UNASSIGNED += _chars((0x1E4EC, 0x1E4EF), (0x31350, 0x31355), (0x1F6DC, 0x1F6DC), (0x2FFFE, 0x2FFFF), (0xE0080, 0xE0081))
SPACES = list("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000")
SPACES += ["\r\n", "\n\n", "  "]
LIGATURES = list("ﬀﬁﬂﬃﬄﬅﬆĲĳŉǄǅǆǇǈǉǊǋǌǱǲǳ")
QUOTES = list("ʼ‘’‚‛“”„‟′″`´")
SPECIALS = ["[SEP]", "[CLS]", "[PAD]", "[UNK]", "[MASK]", "[sep]", "[SEP", "[[SEP]]", "[MASK]]", "[ SEP ]"]
LONG_UNITS = ["a", "ab", "é", "𝑥", "ﬁ", "e\u0301", "ab\u0300"]
HTML5 = sorted(html.entities.html5)  # type: ignore[attr-defined]
SPECIAL_NUMBERS = [0, 9, 10, 11, 12, 13, 31, 38, 59, 60, 127, 128, 129, 133, 141, 150, 159, 160, 173, 0x2028]
SPECIAL_NUMBERS += [0xD800, 0xDFFF, 0xFDD0, 0xFFFE, 0xFFFF, 0x1FFFE, 0x10FFFF, 0x110000, 0x1F600, 10**30]


def _entity(r: random.Random) -> str:
    kind = r.randrange(9)
    if kind == 0:
        return "&" + r.choice(HTML5)  # with or without ";", as listed
    if kind == 1:
        name = r.choice(HTML5).rstrip(";")
        return "&" + (name.upper() if r.random() < 0.7 else name.capitalize()) + r.choice([";", ";", ""])
    if kind == 2:
        n = r.choice(SPECIAL_NUMBERS) if r.random() < 0.5 else r.randrange(0x30000)
        body = r.choice([str(n), "x" + format(n, "x"), "X" + format(n, "X"), "0000" + str(n)])
        return "&#" + body + r.choice([";", ";", "", "x", " "])
    if kind == 3:
        return "&" + r.choice(["amp;", "amp", "AMP;"]) * r.randrange(1, 4) + r.choice(["lt;", "gt;", "eacute;", "#65;"])
    if kind == 4:
        return "&" + r.choice(HTML5).rstrip(";") + r.choice(["x", "foo;", "1;", "é"])
    if kind == 5:
        return "&" + "".join(r.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=r.randrange(1, 40))) + ";"
    if kind == 6:
        return r.choice(["<", "<b>", "</b>", "a<b", "& ", "&;", "&#;", "&#x;", "&&amp;", "&\u00e9;", "&#\u0661;"])
    if kind == 7:
        legacy_prefixed = ["not", "notin", "notit", "copy", "nbsp", "ampx", "lt", "gtfoo"]
        return "&" + r.choice(legacy_prefixed) + r.choice(["", ";", " "])
    return "&" + r.choice(HTML5).rstrip(";") + ";" + r.choice(["", "", "amp;", ";"])


def _terminal(r: random.Random) -> str:
    digits = "".join(r.choices("0123456789;٠١٢३४０１２", k=r.randrange(0, 6)))
    return "\x1b[" + digits + r.choice("mKHJAzé1 ") + r.choice(["", "text", "\x1b[0m"])


def _piece(r: random.Random, golden: list[str], golden_chars: list[str]) -> str:
    kind = r.choices(
        [
            "golden", "golden_chars", "ascii", "punct", "accented", "combining", "case", "units", "cjk", "hangul",
            "emoji", "control", "unassigned", "space", "entity", "terminal", "ligature", "quote", "special", "long",
            "any", "surrogate",
        ],
        weights=[14, 8, 10, 6, 6, 4, 4, 3, 5, 3, 4, 6, 2, 8, 10, 2, 2, 2, 3, 2, 2, 1],
    )[0]  # fmt: skip
    if kind == "golden":
        t = r.choice(golden)
        a = r.randrange(len(t) + 1)
        return t[a : a + r.randrange(1, 24)]
    if kind == "golden_chars":
        return "".join(r.choices(golden_chars, k=r.randrange(1, 8)))
    if kind == "ascii":
        if r.random() < 0.6:
            return r.choice(ASCII_WORDS)
        return "".join(r.choices("abcxyzABC0123-_.", k=r.randrange(1, 9)))
    if kind == "punct":
        return "".join(r.choices(PUNCT, k=r.randrange(1, 4)))
    if kind == "accented":
        return "".join(r.choices(ACCENTED, k=r.randrange(1, 6)))
    if kind == "combining":
        return r.choice("aeoAEOnc\u0131\u03b1") + "".join(r.choices(COMBINING, k=r.randrange(1, 4)))
    if kind == "case":
        return "".join(r.choices(CASE_EDGES, k=r.randrange(1, 5)))
    if kind == "units":
        return r.choice(GREEK_UNITS)
    if kind == "cjk":
        return "".join(r.choices(CJK, k=r.randrange(1, 5)))
    if kind == "hangul":
        return "".join(r.choices(HANGUL, k=r.randrange(1, 5)))
    if kind == "emoji":
        return "".join(r.choices(EMOJI, k=r.randrange(1, 4)))
    if kind == "control":
        return "".join(r.choices(CONTROL, k=r.randrange(1, 3)))
    if kind == "unassigned":
        return r.choice("aé") + r.choice(COMBINING) + r.choice(UNASSIGNED) + r.choice(COMBINING)
    if kind == "space":
        return "".join(r.choices(SPACES, k=r.randrange(1, 3)))
    if kind == "entity":
        return _entity(r)
    if kind == "terminal":
        return _terminal(r)
    if kind == "ligature":
        return "".join(r.choices(LIGATURES, k=r.randrange(1, 3)))
    if kind == "quote":
        return r.choice(QUOTES) + r.choice(ASCII_WORDS) + r.choice(QUOTES)
    if kind == "special":
        return r.choice(SPECIALS)
    if kind == "long":
        unit = r.choice(LONG_UNITS)
        return unit * (r.randrange(95, 106) // len(unit))
    if kind == "any":
        cp = r.randrange(0x110000)
        return "" if 0xD800 <= cp <= 0xDFFF else chr(cp)
    # A lone surrogate (never a high one right before a low one: JSON could not tell that from a pair).
    return "x" + chr(r.choice([0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xD83D])) + "x"


def _separator(r: random.Random) -> str:
    return r.choices(["", " ", "\n", "-", "/"], weights=[5, 10, 1, 1, 1])[0]


def cases() -> list[tuple[str, list[int]]]:
    golden = [c["text"] for c in json.loads(GOLDEN.read_text(encoding="utf-8"))["cases"]]
    golden = [t for t in golden if t and not re.search("[\ud800-\udfff]", t)]
    golden_chars = sorted({ch for t in golden for ch in t})
    tok = WordPieceTokenizer.from_vocab_file(VOCAB)
    r = random.Random(SEED)
    out: list[tuple[str, list[int]]] = []
    for _ in range(COUNT):
        parts = [_piece(r, golden, golden_chars) for _ in range(r.randrange(1, 13))]
        text = "".join(p + _separator(r) for p in parts)
        out.append((text, tok.encode(text)))
    return out


def _escape_surrogates(s: str) -> str:
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", s)


def render(rows: list[tuple[str, list[int]]]) -> str:
    head: dict[str, Any] = {
        "about": "ids from medmir's Python tokenizer; generated by scripts/make_tokenizer_fuzz.py, do not edit",
        "seed": SEED,
        "vocab_sha256": hashlib.sha256(VOCAB.read_bytes()).hexdigest(),
    }
    lines = [json.dumps([t, ids], ensure_ascii=False, separators=(",", ":")) for t, ids in rows]
    body = ",\n".join(_escape_surrogates(line) for line in lines)
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"cases":[\n' + body + "\n]}\n"


def main() -> None:
    text = render(cases())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {COUNT} cases to {OUT.relative_to(ROOT)} ({len(text.encode('utf-8'))} bytes)")


if __name__ == "__main__":
    main()
