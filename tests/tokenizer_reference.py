"""The golden tokenizer cases and the reference that scores them (open_clip's HFTokenizer over HF tokenizers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CONTEXT_LENGTH = 256


def build_cases(phrases_file: Path) -> list[tuple[str, str, str]]:
    """(category, name, text) triples: clinical phrases plus a table of named edge cases."""
    cases: list[tuple[str, str, str]] = []
    phrases = [p for p in phrases_file.read_text(encoding="utf-8").splitlines() if p]
    for i, p in enumerate(phrases):
        cases.append(("clinical", f"phrase-{i:03d}", p))
        if i % 4 == 0:
            cases.append(("clinical", f"phrase-{i:03d}-upper", p.upper()))
        if i % 6 == 1:
            cases.append(("clinical", f"phrase-{i:03d}-title", p.title() + "."))

    edge: dict[str, list[str]] = {
        "empty": ["", " ", "\t\n ", "\u3000", "\u00a0\u00a0"],
        "punctuation": [
            "effusion.",
            "effusion,cardiomegaly;edema!",
            "(left) [right] {both}",
            "?!?!",
            "...",
            "--",
            "a/b\\c",
            "it's the patient's",
            '"quoted"',
            "#1 @home $5 %10 ^2 &c *x +y =z ~w `v` |u| <t> _s_",
            "follow-up",
            "x-ray",
            "xray",
            "chest x ray",
            "e.g. i.e. etc.",
            "r/o pna",
            "s/p cabg",
            "pleural effusion---likely",
            "...effusion...",
            "effusion:",
            "¿effusion?",
            "«edema»",
            "‹a›",
            "¡hola!",
            "§4.2",
            "¶ text",
            "•bullet",
            "‰",
            "†‡",
            "–en—em",
            "…",
            "\u00b7middle dot",
        ],
        "digits_units": [
            "5mm",
            "5 mm",
            "2.5 cm",
            "2,5 cm",
            "T2-weighted",
            "T1W/T2W",
            "10x10",
            "1e-3",
            "0.001",
            "3.5x2.1x1.0 cm nodule",
            "HR 120 bpm",
            "SpO2 88%",
            "BP 120/80 mmHg",
            "37.5°C",
            "100°F",
            "C5-C6",
            "L4/L5",
            "1st 2nd 3rd 4th",
            "12345678901234567890",
            "7th rib",
            "15 HU",
            "-20 HU",
            "½",
            "¼ inch",
            "x²",
            "m³",
            "№5",
            "Ⅻ",
            "①②③",
            "٣ Arabic digit",
            "१२ Devanagari digits",
        ],
        "accents": [
            "café",
            "naïve",
            "Pérez",
            "Ångström",
            "São Paulo",
            "Müller",
            "Øresund",
            "Łódź",
            "Dvořák",
            "résumé",
            "crème brûlée",
            "ﬁbrosis",
            "ﬂuid",
            "Ĳssel",
            "ŉ",
            "straße",
            "STRASSE",
            "İstanbul",
            "ıi",
            "e\u0301",
            "a\u0308\u0301",
            "\u0301alone",
            "Æther",
            "œdème",
            "Œdème",
            "ð þ",
            "ß",
            "Ǆ ǅ ǆ",
            "ﬀ ﬃ ﬄ ﬅ ﬆ",
        ],
        "greek_micro": [
            "µg",
            "μg",
            "5 µm",
            "α-1 antitrypsin",
            "β-blocker",
            "γ-globulin",
            "Δ change",
            "ΣΟΣ",
            "σς",
            "Ωmega",
            "TNF-α",
            "κ light chains",
            "ΑΒΓΔΕ",
            "λ",
            "π r²",
            "ϴ ϑ ϐ",
        ],
        "cjk": [
            "肺炎",
            "胸水",
            "心脏肿大",
            "胸部X線写真",
            "気胸",
            "폐렴",
            "흉수",
            "ｘ線",
            "ＣＴ",
            "ＬＯＵＤ　ＮＯＩＳＥＳ",
            "ｶﾀｶﾅ",
            "\uf900",
            "𠀀",
            "中a文b",
            "漢字 and english",
            "、。「」",
            "【肺】",
        ],
        "emoji": [
            "😀",
            "🫁 lungs",
            "❤️ heart",
            "👍🏽",
            "👨‍⚕️ doctor",
            "🏴󠁧󠁢󠁷󠁬󠁳󠁿",
            "🇺🇸",
            "🥲",
            "🫠",
            "🩻 x-ray",
            "effusion😷",
            "✔ done",
            "★☆",
            "©®™",
            "♥",
            "⚕",
        ],
        "control": [
            "a\x00b",
            "a\x01b",
            "a\x07b",
            "a\x08b",
            "a\x0bb",
            "a\x0cb",
            "a\x1bb",
            "a\x1cb",
            "a\x1fb",
            "a\x7fb",
            "a\x80b",
            "a\x85b",
            "a\x93quoted\x94",
            "a\x9fb",
            "a\u200bb",
            "a\u200cb",
            "a\u200db",
            "a\u200eb",
            "a\u2028b",
            "a\u2029b",
            "a\u2060b",
            "a\u206ab",
            "a\ufeffb",
            "a\ufffcb",
            "a\ufffdb",
            "a\ufff9b",
            "\x1b[31mred\x1b[0m",
            "tab\tsep",
            "cr\rlf\r\nnl\n",
            "a\u00adb",
            "a\u061cb",
            "\U000e0041tag",
            "a\U0001d173b",
            "\U000f0000private",
            "a\ue000b",
        ],
        "html_entities": [
            "&amp;",
            "&amp;amp;",
            "&amp;amp;amp;amp;",
            "&lt;b&gt;bold&lt;/b&gt;",
            "<b>&amp;</b>",
            "&eacute;",
            "&EACUTE;",
            "&NTILDE;",
            "&#233;",
            "&#xe9;",
            "&#X41;",
            "&#0;",
            "&#128;",
            "&#x80;",
            "&#150;",
            "&#55296;",
            "&#1114112;",
            "&nbsp;effusion",
            "&nbsp",
            "&ampx",
            "&notit;",
            "&not",
            "this&not that",
            "&hellip;",
            "&mdash;",
            "&lsquo;q&rsquo;",
            "&copy;2024",
            "&bogus;",
            "&;",
            "&#;",
            "&#x;",
            "& amp;",
            "AT&T",
            "5 &lt; 6",
            "a<b &amp; c",
            "line1&amp;\nline2 < x &amp;",
            "&frac12;",
            "&micro;g",
            "&alpha;",
            "&Alpha;",
            "&zwj;",
            "&lrm;",
        ],
        "quotes_width_ligatures": [
            "‘single’",
            "“double”",
            "‚low‘",
            "„low“",
            "ʼmodifier",
            "‛reversed",
            "‟",
            "ＡＢＣ１２３",
            "！？",
            "ﾟ",
            "\uffe0",
            "\uffe8",
            "ﬃrst",
            "ﬅ",
            "ǈ",
        ],
        "mojibake": [
            "âœ” No problems",
            "sÃ³",
            "voilÃ le travail",
            "Ã©dÃ¨me",
            "cafÃ©",
            "Ã¡rea",
            "â€œquotedâ€\x9d",
            "â€™s",
            "ÐŸÑ€Ð¸Ð²ÐµÑ‚",
            "Ã\xa0 la",
        ],
        "long_words": [
            "a" * 100,
            "a" * 101,
            "b" * 150,
            "pneumonoultramicroscopicsilicovolcanoconiosis",
            "supercalifragilisticexpialidocious" * 3,
            "x" * 99 + "é",
            "é" * 101,
            "anti" + "dis" * 40 + "establishment",
            "1" * 120,
            "-" * 120,
        ],
        "special_literals": [
            "[SEP]",
            "[PAD]",
            "[CLS]",
            "[UNK]",
            "[MASK]",
            "effusion [SEP] edema",
            "[PAD][PAD]",
            "[sep]",
            "[SEP ]",
            "[[SEP]]",
            "x[MASK]y",
            "[UNK]nown",
            "[CLS] chest x-ray [SEP]",
            "[MASK ] [ MASK]",
            "[SEPARATE]",
            "[PADDING]",
        ],
        "scripts": [
            "انصباب جنبي",
            "תפליט",
            "плевральный выпот",
            "ПНЕВМОНИЯ",
            "फुफ्फुस",
            "ปอดบวม",
            "ეფუზია",
            "Ελληνικά",
            "ｱｲｳ",
            "𝒥ohn ℋancock",
            "𝐛𝐨𝐥𝐝",
            "ℌ",
            "ℵ",
            "∑∫√∞≈≠≤≥",
            "→ ← ↑ ↓",
            "\u0e01\u0e34",
        ],
        "whitespace": [
            "  leading",
            "trailing  ",
            "multiple   spaces",
            "new\nline",
            "new\n\nline",
            "\u2003em space",
            "thin\u2009space",
            "nbsp\u00a0space",
            "narrow\u202fnbsp",
            "ogham\u1680space",
            "mixed \t\n\r\x0b\x0c ws",
        ],
    }
    for category, texts in edge.items():
        for j, t in enumerate(texts):
            cases.append((category, f"{category}-{j:02d}", t))

    joined = ". ".join(phrases)
    cases.append(("truncation", "long-paragraph", joined[:4000]))
    cases.append(("truncation", "long-repeated-word", " ".join(["effusion"] * 300)))
    cases.append(("truncation", "exactly-254-words", " ".join(["effusion"] * 254)))
    cases.append(("truncation", "exactly-255-words", " ".join(["effusion"] * 255)))
    cases.append(("truncation", "long-with-sep-at-end", " ".join(["edema"] * 260) + " [SEP]"))
    cases.append(("truncation", "long-subwords", " ".join(["pneumonoultramicroscopic"] * 80)))
    return cases


def _trim(row: list[int]) -> list[int]:
    # The reference pads with id 0 after the final [SEP]; a literal "[PAD]" inside the text is also 0, but it
    # always comes before that [SEP], so trimming after the last non-zero id is exact.
    end = len(row)
    while end > 0 and row[end - 1] == 0:
        end -= 1
    return row[:end]


def reference_ids(vocab_dir: Path, cases: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Run the reference on every case; where ftfy's mojibake repair changes the ids, keep both."""
    from open_clip.tokenizer import HFTokenizer

    from medmir.model.tokenizer import clean_text

    ref = HFTokenizer(str(vocab_dir), context_length=CONTEXT_LENGTH)
    texts = [t for _, _, t in cases]
    full = [_trim(r) for r in ref(texts).tolist()]
    # Same HF tokenizer, fed medmir's cleaning (ftfy without fix_encoding): what medmir must reproduce.
    raw = ref.tokenizer(
        [clean_text(t) for t in texts],
        max_length=CONTEXT_LENGTH,
        padding="max_length",
        truncation=True,
    )["input_ids"]
    portable = [_trim(list(r)) for r in raw]
    rows: list[dict[str, Any]] = []
    for (category, name, text), ids_full, ids_port in zip(cases, full, portable, strict=True):
        row: dict[str, Any] = {"name": name, "category": category, "text": text, "ids": ids_port}
        if ids_full != ids_port:
            row["reference_ids"] = ids_full
        rows.append(row)
    return rows
