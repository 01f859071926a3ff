"""The member card's code: who the member is, signed, for one minute and the next.

A card once showed ``#<member number>``, and a screenshot of it worked forever, for anyone. Its QR
code now holds a token such as ``C:2N9C.HM1TB.7QK3V6XW2MZA``: the member number and the minute
(Unix seconds // 60), both in base 36, and the first 60 bits of their HMAC-SHA256 under the club's
``card`` secret (:mod:`core.club_secrets`) in base 32. It is accepted in its own minute and the
next, so a code shown at second 59 still works at the till: 60 to 120 seconds in all. One from an
older minute is :class:`~core.errors.CardTokenExpired`; anything else (a changed letter, another
club's key, a minute beyond the next) is :class:`~core.errors.CardTokenInvalid`. A clock one minute
ahead on another machine is the same as the next minute, so the till need not share our clock
to the second.

Upper case letters, digits, ``:`` and ``.`` only: QR's compact alphanumeric mode, read aloud or
typed in either case (lower case is read as upper), and never a phone, a member number or an
``@username`` to :func:`core.members.find`, thanks to the letter that starts it. Pure: the caller
brings the secret and the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from core.digits import to_latin_digits
from core.errors import CardTokenExpired, CardTokenInvalid

PREFIX: Final = "C:"
WINDOW_SECONDS: Final = 60
MAC_LENGTH: Final = 12  # base-32 characters: 60 bits, out of reach of guessing at a till
_DIGITS36: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# No leading zeros: each number has one spelling, so each token has one text.
_TOKEN: Final = re.compile(
    rf"^(?P<body>{re.escape(PREFIX)}(?P<member>[1-9A-Z][0-9A-Z]{{0,12}})"
    rf"\.(?P<window>[1-9A-Z][0-9A-Z]{{0,12}}))\.(?P<mac>[A-Z2-7]{{{MAC_LENGTH}}})$"
)


@dataclass(frozen=True)
class CardToken:
    """A card's code and the moment it stops being accepted (the end of the next minute)."""

    text: str
    valid_until: datetime


def looks_like(query: str) -> bool:
    """Whether ``query`` is meant as a card's code rather than a phone, number or username."""
    return _canonical(query).startswith(PREFIX)


def issue(secret: str, member_id: int, now: datetime) -> CardToken:
    """The code of ``member_id``'s card for the minute of ``now``."""
    if member_id < 1:
        raise ValueError(f"a member number is positive, got {member_id}")
    window = window_of(now)
    body = f"{PREFIX}{_base36(member_id)}.{_base36(window)}"
    until = datetime.fromtimestamp((window + 2) * WINDOW_SECONDS, UTC)
    return CardToken(f"{body}.{_mac(secret, body)}", until)


def resolve(secret: str, text: str, now: datetime) -> int:
    """The member number ``text`` was issued for, if it is genuine and still current.

    The MAC is checked before the minute, so a forged code is never called merely stale.

    :raises CardTokenInvalid: not a code made with ``secret``, or made for a later minute than the
        next.
    :raises CardTokenExpired: genuine, but from before the previous minute.
    """
    match = _TOKEN.match(_canonical(text))
    if match is None:
        raise CardTokenInvalid()
    if not hmac.compare_digest(_mac(secret, match["body"]), match["mac"]):
        raise CardTokenInvalid()
    window, current = int(match["window"], 36), window_of(now)
    if window > current + 1:
        raise CardTokenInvalid()
    if window < current - 1:
        raise CardTokenExpired()
    return int(match["member"], 36)


def window_of(now: datetime) -> int:
    """The minute ``now`` falls in, counted from the Unix epoch."""
    return int(now.timestamp()) // WINDOW_SECONDS


def _canonical(text: str) -> str:
    return to_latin_digits(text).strip().upper()


def _base36(number: int) -> str:
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = _DIGITS36[digit] + digits
    return digits or "0"


def _mac(secret: str, body: str) -> str:
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest)[:MAC_LENGTH].decode()
