"""Normalization of numbers typed by Persian-speaking users.

Persian keyboards produce Extended Arabic-Indic digits (U+06F0..U+06F9),
Arabic keyboards produce Arabic-Indic digits (U+0660..U+0669), and people
paste numbers with all kinds of thousands separators. Everything that comes
from a user goes through this module before it reaches the domain, so the
rest of ``core`` only ever deals with plain ``int`` values.

Non-ASCII characters are written as ``\\u`` escapes on purpose: a repository
checker forbids Persian characters inside ``core/*.py``.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from core.errors import InvalidNumber

__all__ = [
    "MAX_INPUT_LENGTH",
    "InvalidNumber",
    "InvalidNumberReason",
    "format_number",
    "parse_positive_int",
    "to_latin_digits",
    "to_persian_digits",
]

InvalidNumberReason = Literal["empty", "not_a_number", "not_positive", "too_large"]

#: Inputs longer than this (after trimming surrounding whitespace) are
#: rejected before any conversion. ``int()`` on a huge digit string is
#: quadratic in CPython, so an attacker-sized message must never reach it.
#: 30 characters is far more than any realistic amount (even grouped with
#: separators it leaves room for 23 digits).
MAX_INPUT_LENGTH: Final = 30

_PERSIAN_ZERO: Final = 0x06F0
_ARABIC_ZERO: Final = 0x0660

_TO_LATIN: Final = {_PERSIAN_ZERO + i: ord("0") + i for i in range(10)} | {
    _ARABIC_ZERO + i: ord("0") + i for i in range(10)
}
_TO_PERSIAN: Final = {ord("0") + i: _PERSIAN_ZERO + i for i in range(10)}

#: Persian thousands separator (ARABIC THOUSANDS SEPARATOR).
_FA_THOUSANDS_SEPARATOR: Final = "\u066c"

#: Characters tolerated *between* two digits and silently dropped: ASCII
#: comma, Arabic thousands separator, Arabic comma (often typed instead of
#: the thousands separator on Persian keyboards), space, no-break space,
#: thin space and narrow no-break space.
_SEPARATORS: Final = ",\u066c\u060c \u00a0\u2009\u202f"

# ``[0-9]`` rather than ``\d``: ``\d`` and ``int()`` also accept Devanagari,
# fullwidth and other Unicode digits, which we do not want to let through.
_GROUPED_NUMBER: Final = re.compile("[0-9]+(?:[" + re.escape(_SEPARATORS) + "][0-9]+)*")

#: ASCII hyphen-minus and U+2212 MINUS SIGN; used only to give a better
#: error reason ("not_positive") for things like ``-5``.
_MINUS_SIGNS: Final = "-\u2212"


def to_latin_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII ``0-9``.

    Every other character is left untouched, so this is safe to apply to
    arbitrary text (phone numbers, codes, free-form input) before parsing.
    """
    return text.translate(_TO_LATIN)


def to_persian_digits(text: str) -> str:
    """Replace ASCII ``0-9`` with Persian digits (U+06F0..U+06F9).

    Used when showing numbers to users with the ``fa`` locale; every other
    character is left untouched.
    """
    return text.translate(_TO_PERSIAN)


def parse_positive_int(text: str, *, maximum: int) -> int:
    """Parse a strictly positive integer typed by a user.

    Accepts Persian, Arabic-Indic and ASCII digits (mixed too), surrounding
    whitespace, and single thousands separators placed between digits
    (``,``, U+066C, U+060C, space, no-break/thin spaces). Correct grouping
    by three is *not* required: ``"1,2"`` is 12, because users are sloppy
    and the value is shown back to them for confirmation anyway.

    Rejects empty input, signs, decimals, letters, zero, values above
    ``maximum`` and anything longer than :data:`MAX_INPUT_LENGTH` characters
    (checked before ``int()`` so a huge message costs no CPU).

    :raises InvalidNumber: with ``reason`` describing the problem.
    :raises ValueError: if ``maximum`` itself is not positive (a bug in the
        caller, not a user error).
    """
    if maximum < 1:
        raise ValueError(f"maximum must be positive, got {maximum}")

    stripped = text.strip()
    if not stripped:
        raise InvalidNumber("empty", text)

    if len(stripped) > MAX_INPUT_LENGTH:
        # Still tell "huge number" apart from "long garbage" for a better
        # message; this scan is linear and cheap.
        latin = to_latin_digits(stripped)
        if all((c.isascii() and c.isdigit()) or c in _SEPARATORS for c in latin):
            raise InvalidNumber("too_large", text)
        raise InvalidNumber("not_a_number", text)

    latin = to_latin_digits(stripped)
    negative = latin[0] in _MINUS_SIGNS
    body = latin[1:].lstrip() if negative else latin

    if _GROUPED_NUMBER.fullmatch(body) is None:
        raise InvalidNumber("not_a_number", text)
    if negative:
        raise InvalidNumber("not_positive", text)

    value = int("".join(c for c in body if c not in _SEPARATORS))
    if value == 0:
        raise InvalidNumber("not_positive", text)
    if value > maximum:
        raise InvalidNumber("too_large", text)
    return value


def format_number(n: int, locale: str) -> str:
    """Format an integer with thousands separators for display.

    * ``"fa"``: Persian digits and the Persian thousands separator U+066C,
      e.g. 12500 -> ``"\u06f1\u06f2\u066c\u06f5\u06f0\u06f0"``;
      negatives get a plain ``"-"`` prefix.
    * ``"en"``: ASCII digits and commas, e.g. 12500 -> ``"12,500"``.

    The output of either locale is accepted back by
    :func:`parse_positive_int` (for positive values).

    :raises ValueError: for an unsupported locale -- that is a programming
        error, silently falling back would hide it.
    """
    if locale == "en":
        return f"{n:,}"
    if locale == "fa":
        sign = "-" if n < 0 else ""
        grouped = f"{abs(n):,}".replace(",", _FA_THOUSANDS_SEPARATOR)
        return sign + to_persian_digits(grouped)
    raise ValueError(f"unsupported locale: {locale!r}")
