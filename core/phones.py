"""Phone number normalization to E.164.

Members identify themselves by phone number, typed in every imaginable way:
``09121234567``, ``+98 912 123 4567``, ``0098...``, with Persian digits,
with parentheses and dashes. Storing one canonical form (E.164, e.g.
``+989121234567``) is what makes lookups and de-duplication work, so all
input goes through :func:`normalize_phone`.

The heavy lifting (country rules, validity ranges) is delegated to the
``phonenumbers`` library; this module only adds input hygiene that the
library does not do for us.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from core.digits import to_latin_digits
from core.errors import InvalidPhone

__all__ = [
    "MAX_PHONE_INPUT_LENGTH",
    "InvalidPhone",
    "InvalidPhoneReason",
    "is_mobile",
    "national",
    "normalize_phone",
]

InvalidPhoneReason = Literal["empty", "too_long", "invalid_characters", "invalid"]

#: Raw inputs longer than this are rejected before parsing: no real phone
#: number, however generously formatted, needs more, and it bounds the work
#: done on hostile input.
MAX_PHONE_INPUT_LENGTH: Final = 40

# Only digits and common formatting characters; a single leading "+".
# This is stricter than phonenumbers on purpose: the library happily turns
# letters into digits ("1-800-FLOWERS") and parses extensions ("ext. 12"),
# neither of which makes sense for a membership phone number.
_ALLOWED: Final = re.compile(r"\+?[0-9 ()\-.]*")

# Dash variants people paste from word processors / other apps.
_DASHES: Final = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
# Space variants (no-break, thin, narrow no-break) -> plain space.
_SPACES: Final = str.maketrans(dict.fromkeys("\u00a0\u2009\u202f", " "))

_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


def _clean(raw: str) -> str:
    """Make pasted text parseable: ASCII digits, plain spaces and dashes.

    Invisible format characters (category ``Cf``: LRM/RLM and other bidi
    marks, ZWNJ, BOM) are dropped because copying a number out of
    right-to-left Persian text very often drags them along.
    """
    text = to_latin_digits(raw).translate(_DASHES).translate(_SPACES)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return text.strip()


def normalize_phone(raw: str, default_region: str = "IR") -> str:
    """Return ``raw`` as an E.164 string such as ``"+989121234567"``.

    Numbers without a leading ``+`` (or ``00``) are interpreted in
    ``default_region``, so for Iran all of ``09121234567``, ``9121234567``,
    ``989121234567`` and ``0098 912 123 4567`` are accepted. Foreign numbers
    need an explicit ``+``. Landlines are accepted as long as they are valid;
    use :func:`is_mobile` if only mobiles are wanted.

    :raises InvalidPhone: with ``reason`` describing the problem.
    :raises ValueError: if ``default_region`` is not a region known to
        ``phonenumbers`` (a bug in the caller, not a user error).
    """
    if default_region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unsupported region: {default_region!r}")
    if len(raw) > MAX_PHONE_INPUT_LENGTH:
        raise InvalidPhone("too_long", raw)

    text = _clean(raw)
    if not text:
        raise InvalidPhone("empty", raw)
    if _ALLOWED.fullmatch(text) is None:
        raise InvalidPhone("invalid_characters", raw)

    try:
        number = phonenumbers.parse(text, default_region)
    except NumberParseException as exc:
        raise InvalidPhone("invalid", raw) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("invalid", raw)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """Tell whether a number (as returned by :func:`normalize_phone`) is a mobile.

    Numbers whose type cannot be told apart (``FIXED_LINE_OR_MOBILE``, as in
    the US) count as mobile, since they may well receive SMS.

    :raises InvalidPhone: if ``e164`` cannot be parsed.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException as exc:
        raise InvalidPhone("invalid", e164) from exc
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def national(e164: str, region: str = "IR") -> str:
    """How the shop writes a stored number: the national digits for a number of ``region``
    (``09121234567``, leading ``0`` and all), E.164 for any other, and as stored if unreadable.

    For people's eyes (a spreadsheet), never for lookups: those take E.164.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) != region:
        return e164
    written = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return "".join(char for char in written if char.isdigit())
