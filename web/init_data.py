"""The Mini App's proof of who is asking: Telegram's signed launch data (``initData``), checked.

Telegram opens a Mini App with ``initData``, a query string it signed with a key derived from the
bot's token; the page sends it back whole in ``Authorization: tma <initData>``, and only the
server, which knows the token, can tell a real one from a forged one. Exactly as Telegram
specifies (core.telegram.org/bots/webapps, "Validating data received via the Mini App"):

- the secret key is HMAC-SHA256 with the key ``WebAppData`` over the bot token (not the other way
  round, and not SHA-256 of the token, which is the Login Widget's scheme);
- the data-check string is every received field but ``hash``, as ``key=value`` with its value
  decoded, sorted by key and joined with ``\\n``; the raw string is split on ``&`` first and each
  part decoded after, so an ``&`` inside a value (``%26``) stays inside it;
- the hash is compared in constant time, and ``auth_date`` must be recent: old launch data, a
  screenshot's or a leaked log's, is worth nothing.

The fields are read only after the signature holds, from the very string that was signed, never
from an object rebuilt from it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

#: How far ahead of our clock a launch may claim to be (clocks differ a little, not more).
CLOCK_SKEW_SECONDS = 60


class InitDataRejected(Exception):
    """The launch data is missing, malformed, forged, tampered with or too old (``reason``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InitData:
    """What a valid launch says: the Telegram user and when Telegram signed it."""

    user_id: int
    user: dict[str, Any]
    auth_date: int
    fields: dict[str, str]


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The ``hash`` Telegram puts on ``fields`` (decoded values): for checking, and for tests and
    the offline shell to make launch data as Telegram would."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    return hmac.new(secret_key(bot_token), check.encode(), hashlib.sha256).hexdigest()


def verify(raw: str, bot_token: str, *, max_age_seconds: int, now: float) -> InitData:
    """The launch data in ``raw`` (as the page sent it), if Telegram signed it for this bot
    within ``max_age_seconds`` of ``now``.

    :raises InitDataRejected: anything else; nothing about the request is to be trusted then.
    """
    fields = _fields(raw)
    received = fields.pop("hash", "")
    if not received:
        raise InitDataRejected("unsigned")
    if not hmac.compare_digest(sign(fields, bot_token), received):
        raise InitDataRejected("bad_signature")
    try:
        auth_date = int(fields["auth_date"])
    except (KeyError, ValueError):
        raise InitDataRejected("no_auth_date") from None
    if now - auth_date > max_age_seconds:
        raise InitDataRejected("expired")
    if auth_date - now > CLOCK_SKEW_SECONDS:
        raise InitDataRejected("from_the_future")
    try:
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError):
        raise InitDataRejected("no_user") from None
    return InitData(user_id, user, auth_date, fields)


def _fields(raw: str) -> dict[str, str]:
    """``raw`` split on ``&`` and ``=``, then each part decoded; a key twice is refused, since
    which of the two was signed could not be told."""
    if not raw or len(raw) > 4096:
        raise InitDataRejected("malformed")
    fields: dict[str, str] = {}
    for part in raw.split("&"):
        key, equals, value = part.partition("=")
        if not equals or not key:
            raise InitDataRejected("malformed")
        key, value = unquote(key.replace("+", " ")), unquote(value.replace("+", " "))
        if key in fields:
            raise InitDataRejected("malformed")
        fields[key] = value
    return fields
