"""The WordPiece tokenizer against the golden fixture from the reference (open_clip HFTokenizer)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BIOMEDCLIP, FIXTURES

from medmir.core.errors import MedmirError
from medmir.model.tokenizer import WordPieceTokenizer, clean_text, load_vocab

GOLDEN = json.loads((FIXTURES / "tokenizer_golden.json").read_text(encoding="utf-8"))
CASES = GOLDEN["cases"]


@pytest.fixture(scope="module")
def tok() -> WordPieceTokenizer:
    return WordPieceTokenizer.from_vocab_file(BIOMEDCLIP / "vocab.txt")


def test_fixture_is_big_and_covers_every_category() -> None:
    assert len(CASES) >= 500
    cats = {c["category"] for c in CASES}
    for needed in (
        "clinical", "punctuation", "digits_units", "accents", "greek_micro", "cjk", "emoji", "control",
        "html_entities", "long_words", "special_literals", "truncation", "mojibake",
    ):  # fmt: skip
        assert needed in cats, needed


def test_golden_ids_exactly(tok: WordPieceTokenizer) -> None:
    bad = [
        (c["name"], c["text"][:40], tok.encode(c["text"]), c["ids"]) for c in CASES if tok.encode(c["text"]) != c["ids"]
    ]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"


def test_only_mojibake_repair_differs_from_the_reference(tok: WordPieceTokenizer) -> None:
    """The one documented difference: ftfy's fix_encoding. Everything else equals the reference itself."""
    differing = [c for c in CASES if "reference_ids" in c]
    assert differing, "the fixture should show the documented difference"
    assert {c["category"] for c in differing} == {"mojibake"}
    for c in differing:
        assert tok.encode(c["text"]) != c["reference_ids"]


def test_fixture_matches_the_live_reference() -> None:
    """Regenerate with the installed open_clip/transformers: a version drift fails here, not in production."""
    from tokenizer_reference import build_cases, reference_ids

    live = reference_ids(BIOMEDCLIP, build_cases(FIXTURES / "clinical_phrases.txt"))
    assert [r["text"] for r in live] == [c["text"] for c in CASES]
    assert live == CASES


def test_vocab_fingerprint_matches_fixture() -> None:
    import hashlib

    assert hashlib.sha256((BIOMEDCLIP / "vocab.txt").read_bytes()).hexdigest() == GOLDEN["vocab_sha256"]


def test_truncation_keeps_final_sep(tok: WordPieceTokenizer) -> None:
    ids = tok.encode("effusion " * 400)
    assert len(ids) == 256
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    assert len(tok.encode("effusion " * 254)) == 256
    assert len(tok.encode("effusion " * 253)) == 255


def test_literal_special_tokens_become_special_ids(tok: WordPieceTokenizer) -> None:
    assert tok.encode("a [SEP] b")[2] == tok.sep_id
    assert tok.encode("[PAD]") == [tok.cls_id, tok.pad_id, tok.sep_id]
    assert tok.sep_id not in tok.encode("[sep]")[1:-1]  # case-sensitive, as the reference


def test_long_word_is_unknown(tok: WordPieceTokenizer) -> None:
    assert tok.encode("a" * 101) == [tok.cls_id, tok.unk_id, tok.sep_id]
    assert tok.unk_id not in tok.encode("a" * 100)


def test_batch_padding(tok: WordPieceTokenizer) -> None:
    rows = tok.encode_batch(["effusion", "bilateral pleural effusion"])
    assert len(rows[0]) == len(rows[1])
    assert rows[0][-1] == tok.pad_id
    assert len(tok.encode_batch(["x"], pad_to=256)[0]) == 256


def test_clean_text_keeps_ftfy_fixes_but_not_mojibake_repair() -> None:
    assert clean_text("ＬＯＵＤ　ＮＯＩＳＥＳ") == "LOUD NOISES"
    assert clean_text("&amp;amp;amp;") == "&"
    assert clean_text("“quoted”") == '"quoted"'
    assert clean_text("sÃ³") == "sÃ³"  # the reference would repair this to "só"


def test_vocab_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(MedmirError, match=r"bad\.txt: vocabulary is not UTF-8"):
        load_vocab(bad)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(MedmirError, match=r"empty\.txt: vocabulary is empty"):
        load_vocab(empty)
    with pytest.raises(MedmirError, match=r"missing\.txt: cannot read"):
        load_vocab(tmp_path / "missing.txt")
    nospecial = tmp_path / "nospecial.txt"
    nospecial.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(MedmirError, match="lacks special tokens"):
        WordPieceTokenizer.from_vocab_file(nospecial)


def test_cli_tokenize_contract() -> None:
    texts = [c["text"] for c in CASES if "\n" not in c["text"] and "\r" not in c["text"]][:80]
    proc = subprocess.run(
        [sys.executable, "-m", "medmir.cli", "tokenize", "--vocab", str(BIOMEDCLIP / "vocab.txt")],
        input="\n".join(texts).encode("utf-8"),
        capture_output=True,
        check=True,
    )
    got = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    want = {c["text"]: c["ids"] for c in CASES}
    assert got == [want[t] for t in texts]
