"""Segments, step one: a rule's text cut into tokens, Persian keyboards' habits smoothed over.

Kept apart from the parser so the parser reads tokens only: digits of three scripts, the invisible
marks of right-to-left typing, words in Persian letters (read as the language's own words through
a :class:`~core.segments.words.Vocabulary`) and the quoting of text are settled here, once, with
the position of every token kept for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from core.digits import to_latin_digits
from core.errors import SegmentError
from core.segments.words import NONE, Vocabulary

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits are read as 0-9. Everything non-ASCII is
# escaped: a repository checker forbids Persian characters in core/*.py.
_DIGITS = "0-9\u06f0-\u06f9\u0660-\u0669"
# Whitespace, plus the invisible marks Persian keyboards and RTL copy-paste slip in (ZWNJ, LRM,
# RLM, the bidi embeddings and isolates).
_SPACE = r"\s\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069"
# Letters of Latin and Arabic script (Persian's, with its marks; not its digits or punctuation);
# inside a word, digits and the zero-width non-joiner of Persian spelling too.
_LETTER = "A-Za-z_\u0621-\u063a\u0640-\u065f\u0670-\u06d3"
_COMMA = "\u060c"  # the Arabic-script comma, read as ","
_TOKEN_RE: Final = re.compile(
    rf"(?P<space>[{_SPACE}]+)"
    rf"|(?P<number>[{_DIGITS}]+(?:[_\u066c][{_DIGITS}]+)*)"
    rf"|(?P<word>[{_LETTER}][{_LETTER}{_DIGITS}\u200c]*)"
    r"|(?P<string>\"[^\"\n]*\"|'[^'\n]*')"
    r"|(?P<op>[=!<>]+)"
    rf"|(?P<punct>[(),{_COMMA}])"
)


@dataclass(frozen=True)
class _Token:
    kind: str  # word | number | string | op | ( | ) | ,
    text: str  # as typed
    pos: int
    value: str  # words lower-cased with Latin digits; numbers as Latin digits; strings unquoted


def _tokenize(text: str, words: Vocabulary = NONE) -> list[_Token]:
    """The tokens of ``text``, each word read as the language's own where ``words`` has it."""
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "\"'":
                raise SegmentError("unterminated_string", pos, text[pos : pos + 20])
            raise SegmentError("unexpected_character", pos, char)
        kind, raw = match.lastgroup or "", match.group()
        pos = match.end()
        if kind == "space":
            continue
        if kind == "number":
            value = to_latin_digits(raw).replace("_", "").replace("\u066c", "")
        elif kind == "word":
            value = words.own(raw) or to_latin_digits(raw).lower()
        elif kind == "string":
            value = raw[1:-1]
        elif kind == "punct":
            kind = value = "," if raw == _COMMA else raw
        else:
            value = raw
        tokens.append(_Token(kind, raw, match.start(), value))
    return tokens
