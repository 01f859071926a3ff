"""Normalization of numbers typed by Persian-speaking users.

Persian keyboards produce Extended Arabic-Indic digits (U+06F0..U+06F9),
Arabic keyboards produce Arabic-Indic digits (U+0660..U+0669), and people
paste numbers with all kinds of thousands separators. Everything that comes
from a user goes through this module before it reaches the domain, so the
rest of ``core`` only ever deals with plain ``int`` values.

Amounts of money are read by :func:`parse_amount`, which also takes the words a cashier types
after a number: ``250k``, ``2.5m``, "250 thousand" and "2.5 million" in Persian, with or without
the word Toman. Money is never guessed: grouping must be by threes, a space never groups digits,
and an amount that is not a whole number of Toman is refused.

Non-ASCII characters are written as ``\\u`` escapes on purpose: a repository
checker forbids Persian characters inside ``core/*.py``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from core.errors import InvalidNumber

__all__ = [
    "MAX_AMOUNT_LENGTH",
    "MAX_INPUT_LENGTH",
    "InvalidNumber",
    "InvalidNumberReason",
    "amount_length",
    "format_number",
    "parse_amount",
    "parse_positive_int",
    "to_latin_digits",
    "to_persian_digits",
]

InvalidNumberReason = Literal[
    "empty", "not_a_number", "not_positive", "too_large", "not_whole", "rial"
]

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


# --- amounts of money ---------------------------------------------------------------------------

#: An amount phrase ("2.5 million Toman", separators and all) longer than this is refused before
#: any conversion, for the same reason as :data:`MAX_INPUT_LENGTH`.
MAX_AMOUNT_LENGTH: Final = 40

#: Multiples a cashier types after a number, Latin and Persian (with the common misspelling
#: that drops the first yeh of million and billion).
_UNITS: Final = {
    "k": 10**3,
    "\u0647\u0632\u0627\u0631": 10**3,  # thousand
    "m": 10**6,
    "\u0645\u06cc\u0644\u06cc\u0648\u0646": 10**6,  # million
    "\u0645\u0644\u06cc\u0648\u0646": 10**6,
    "b": 10**9,
    "\u0645\u06cc\u0644\u06cc\u0627\u0631\u062f": 10**9,  # billion
    "\u0645\u0644\u06cc\u0627\u0631\u062f": 10**9,
}
#: The currency words accepted after an amount: Toman (formal and spoken spelling).
_TOMAN: Final = ("toman", "tomans", "\u062a\u0648\u0645\u0627\u0646", "\u062a\u0648\u0645\u0646")
#: The rial is ten times smaller: an amount in rials is refused, never read as Toman.
_RIAL: Final = ("rial", "rials", "\u0631\u06cc\u0627\u0644")

#: Arabic yeh and kaf typed on Arabic keyboards, as the Persian letters the words above use.
_PERSIAN_LETTERS: Final = str.maketrans({"\u064a": "\u06cc", "\u0643": "\u06a9"})

#: Thousands separators inside an amount: comma, Persian/Arabic thousands separator, Arabic
#: comma. Never a space: "250 000" is two numbers.
_AMOUNT_GROUP: Final = ",\u066c\u060c"
#: Decimal separators: the point, the Persian/Arabic decimal separator, and the slash Iranians
#: write for it ("2/5 million").
_AMOUNT_DECIMAL: Final = ".\u066b/"


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation that tries longer words first (``tomans`` before ``toman``)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_AMOUNT: Final = re.compile(
    rf"(?P<whole>[0-9]{{1,3}}(?:[{_AMOUNT_GROUP}][0-9]{{3}})+|[0-9]+)"
    rf"(?:[{re.escape(_AMOUNT_DECIMAL)}](?P<fraction>[0-9]+))?"
    rf" ?(?P<unit>{_alternatives(_UNITS)})?"
    rf" ?(?:(?P<toman>{_alternatives(_TOMAN)})|(?P<rial>{_alternatives(_RIAL)}))?"
)


def _amount_text(text: str) -> str:
    """One spelling of an amount phrase: Latin digits, Persian letters, lower case, invisible
    marks (bidi marks, zero-width non-joiner) dropped, any run of spaces made one space."""
    latin = to_latin_digits(text).translate(_PERSIAN_LETTERS).casefold()
    visible = "".join(c for c in latin if unicodedata.category(c) != "Cf")
    return " ".join(visible.split())


def _is_amount_word(token: str, words: Sequence[str]) -> bool:
    return _amount_text(token) in words


def amount_length(tokens: Sequence[str]) -> int:
    """How many of ``tokens`` (an argument list split on spaces) make up the amount at its start.

    The grammar is ``NUMBER [UNIT] [CURRENCY]``: the number, a multiple word if one follows
    (thousand, million, billion, k, m, b), then a currency word if one follows (Toman, or the
    rial, which :func:`parse_amount` refuses). A unit or currency may also be written joined to
    the number (``250k``), which this count does not need to know. 0 for no tokens.
    """
    if not tokens:
        return 0
    taken = 1
    if taken < len(tokens) and _is_amount_word(tokens[taken], tuple(_UNITS)):
        taken += 1
    if taken < len(tokens) and _is_amount_word(tokens[taken], _TOMAN + _RIAL):
        taken += 1
    return taken


def parse_amount(text: str, *, maximum: int) -> int:
    """A whole, positive number of Toman from what a cashier typed.

    Accepted: ``250000``, ``250,000`` and ``\u06f2\u06f5\u06f0\u066c\u06f0\u06f0\u06f0`` (grouped
    by threes exactly), Persian/Arabic/ASCII digits, a decimal part after ``.``, ``\u066b`` or
    ``/``, a multiple (``k``/``m``/``b`` or thousand/million/billion in Persian, joined or after a
    space) and the word Toman. ``2.5m`` is 2,500,000.

    Refused, each with its ``reason``: sloppy grouping such as ``1,2`` or a space between digits
    (``not_a_number``: money is not guessed), a value that is not whole Toman (``not_whole``:
    ``2.5`` or ``1.0005k``), an amount in rials (``rial``), zero or a sign (``not_positive``),
    more than ``maximum`` (``too_large``).

    :raises InvalidNumber: with ``reason`` describing the problem.
    :raises ValueError: if ``maximum`` is not positive (a bug in the caller).
    """
    if maximum < 1:
        raise ValueError(f"maximum must be positive, got {maximum}")
    phrase = _amount_text(text)  # linear: safe on a message of any size
    if len(phrase) > MAX_AMOUNT_LENGTH:
        huge = _GROUPED_NUMBER.fullmatch(phrase) is not None
        raise InvalidNumber("too_large" if huge else "not_a_number", text)
    if not phrase:
        raise InvalidNumber("empty", text)
    if phrase[0] in _MINUS_SIGNS:
        raise InvalidNumber("not_positive", text)
    match = _AMOUNT.fullmatch(phrase)
    if match is None:
        raise InvalidNumber("not_a_number", text)
    if match["rial"]:
        raise InvalidNumber("rial", text)
    return _whole_toman(match, text, maximum)


def _whole_toman(match: re.Match[str], text: str, maximum: int) -> int:
    """The matched amount in Toman, computed in integers: no float ever rounds money."""
    whole = "".join(c for c in match["whole"] if c.isdigit())
    fraction = match["fraction"] or ""
    scaled = int(whole + fraction) * _UNITS.get(match["unit"] or "", 1)
    value, rest = divmod(scaled, 10 ** len(fraction))
    if rest:
        raise InvalidNumber("not_whole", text)
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


def format_decimal(value: float, locale: str, places: int = 1) -> str:
    """A fractional number for people (a survey's score, a lift in points): ``places`` decimals,
    Persian digits and the Persian decimal separator U+066B in ``fa``; whole numbers (``places``
    0) rounded half up and grouped as :func:`format_number` groups them."""
    if places == 0:
        return format_number(math.floor(value + 0.5), locale)
    text = f"{value:.{places}f}"
    return to_persian_digits(text).replace(".", "\u066b") if locale == "fa" else text
