"""WordPiece tokenizer giving exactly the ids of open_clip's HFTokenizer for BERT-family towers.

The reference pipeline is open_clip's text cleaning (ftfy.fix_text, html.unescape twice, whitespace collapsed)
followed by Hugging Face `tokenizers`' BertTokenizerFast (special tokens matched in the raw text, BertNormalizer,
BertPreTokenizer, WordPiece, [CLS] ... [SEP], truncation to the context length).

One deliberate difference: ftfy's mojibake repair (`fix_encoding`) is skipped, because it is a heuristic
re-decoding that the browser twin cannot reproduce exactly. Every other ftfy step is kept. The golden fixture
records the strings where this matters (see docs/FORMAT.md, "Tokenizer").

This module imports neither torch nor transformers: it is used at query time.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ftfy

from medmir.core.errors import MedmirError

# Rust's char::is_whitespace (Unicode White_Space); Python's str.isspace differs (it includes U+001C..U+001F).
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


@dataclass(frozen=True)
class TokenizerSpec:
    """The settings a pack's manifest records; the browser tokenizer reads the same fields."""

    lowercase: bool = True
    strip_accents: bool = True
    handle_chinese_chars: bool = True
    max_chars_per_word: int = 100
    context_length: int = 256
    continuing_subword_prefix: str = "##"
    pad_token: str = "[PAD]"
    unk_token: str = "[UNK]"
    cls_token: str = "[CLS]"
    sep_token: str = "[SEP]"
    mask_token: str = "[MASK]"
    clean: str = "open_clip-whitespace-no-fix-encoding"

    @property
    def special_tokens(self) -> tuple[str, ...]:
        return (self.pad_token, self.unk_token, self.cls_token, self.sep_token, self.mask_token)


def clean_text(text: str) -> str:
    """open_clip's `_clean_whitespace`, with ftfy's mojibake repair switched off."""
    text = ftfy.fix_text(text, fix_encoding=False)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).strip()


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def load_vocab(path: Path) -> list[str]:
    """Read a WordPiece vocab (one token per line, id = line number) with clear errors."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MedmirError(f"{path}: cannot read vocabulary ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MedmirError(f"{path}: vocabulary is not UTF-8 (byte {exc.start})") from exc
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t.rstrip("\r") for t in tokens]
    if not tokens:
        raise MedmirError(f"{path}: vocabulary is empty")
    return tokens


@dataclass
class WordPieceTokenizer:
    vocab: Sequence[str]
    spec: TokenizerSpec = field(default_factory=TokenizerSpec)

    def __post_init__(self) -> None:
        self._ids: dict[str, int] = {}
        for i, tok in enumerate(self.vocab):
            self._ids.setdefault(tok, i)
        missing = [t for t in self.spec.special_tokens if t not in self._ids]
        if missing:
            raise MedmirError(f"vocabulary lacks special tokens {missing}")
        self.pad_id = self._ids[self.spec.pad_token]
        self.unk_id = self._ids[self.spec.unk_token]
        self.cls_id = self._ids[self.spec.cls_token]
        self.sep_id = self._ids[self.spec.sep_token]
        # Longest first, as the reference's leftmost-longest matcher picks the longest token at a position.
        self._specials = sorted(self.spec.special_tokens, key=len, reverse=True)

    @classmethod
    def from_vocab_file(cls, path: Path, spec: TokenizerSpec | None = None) -> WordPieceTokenizer:
        return cls(load_vocab(path), spec or TokenizerSpec())

    # -- stages -------------------------------------------------------------------------------------------
    def _split_specials(self, text: str) -> Iterable[tuple[str, bool]]:
        """Special tokens written literally in the text become those tokens, as in the reference."""
        start = i = 0
        n = len(text)
        while i < n:
            if text[i] == "[":
                for tok in self._specials:
                    if text.startswith(tok, i):
                        if start < i:
                            yield text[start:i], False
                        yield tok, True
                        i += len(tok)
                        start = i
                        break
                else:
                    i += 1
            else:
                i += 1
        if start < n:
            yield text[start:], False

    def normalize(self, text: str) -> str:
        out: list[str] = []
        for ch in text:
            if ch == "\0" or ch == "\ufffd" or _is_control(ch):
                continue
            if ch in WHITE_SPACE:
                out.append(" ")
            elif self.spec.handle_chinese_chars and _is_cjk(ch):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        s = "".join(out)
        if self.spec.strip_accents:
            s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
        if self.spec.lowercase:
            s = "".join(c.lower() for c in s)
        return s

    @staticmethod
    def pre_tokenize(text: str) -> list[str]:
        words: list[str] = []
        cur: list[str] = []
        for ch in text:
            if ch in WHITE_SPACE:
                if cur:
                    words.append("".join(cur))
                    cur = []
            elif _is_punctuation(ch):
                if cur:
                    words.append("".join(cur))
                    cur = []
                words.append(ch)
            else:
                cur.append(ch)
        if cur:
            words.append("".join(cur))
        return words

    def wordpiece(self, word: str) -> list[int]:
        if len(word) > self.spec.max_chars_per_word:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        prefix = self.spec.continuing_subword_prefix
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                found = self._ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    # -- public -------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Ids with [CLS] and [SEP], truncated to the context length, unpadded."""
        ids: list[int] = []
        for segment, special in self._split_specials(clean_text(text)):
            if special:
                ids.append(self._ids[segment])
                continue
            for word in self.pre_tokenize(self.normalize(segment)):
                ids.extend(self.wordpiece(word))
        ids = ids[: self.spec.context_length - 2]
        return [self.cls_id, *ids, self.sep_id]

    def encode_batch(self, texts: Sequence[str], pad_to: int | None = None) -> list[list[int]]:
        """Encode several texts, padding with the pad id to the longest (or to `pad_to`)."""
        rows = [self.encode(t) for t in texts]
        width = pad_to if pad_to is not None else max((len(r) for r in rows), default=0)
        return [r + [self.pad_id] * (width - len(r)) for r in rows]
