"""Who opened the Mini App: ``Authorization: tma <initData>``, checked on every request.

Telegram hands the page its signed launch data (``initData``); the page sends the raw string back
with every call, and :func:`web.init_data.verify` checks it against the bot's token and the rule
``miniapp.max_age_seconds``. Anything else (no header, another scheme, a forged, tampered or stale
string) is a 401 that reaches no core action, so it changes nothing. The Telegram user id in the
checked data is the only identity the app's routes use: a member can only ever see and act on
their own account.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from core.audit import Actor
from core.club import Club
from web.init_data import InitDataRejected, verify
from web.problems import Refused

#: Whether a Telegram user is an administrator of the club's staff group: the bot asks Telegram
#: (``getChatMember``, cached as the chat's staff commands are), since web has no bot of its own.
IsAdmin = Callable[[int], Awaitable[bool]]

SCHEME = "tma"
CHALLENGE = {"WWW-Authenticate": SCHEME}


@dataclass(frozen=True)
class Launch:
    """A checked launch: the Telegram user as the actor of every core action, and their app
    language (Telegram's, until the member's own is known)."""

    actor: Actor
    language: str | None


def launched(request: Request) -> Launch:
    """The request's checked launch data; :class:`~web.problems.Refused` 401 otherwise."""
    club: Club = request.app.state.club
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    token = club.settings.bot_token
    if scheme.lower() != SCHEME or not raw.strip() or token is None:
        raise Refused(401, "launch_refused", headers=CHALLENGE)
    try:
        data = verify(
            raw.strip(),
            token.get_secret_value(),
            max_age_seconds=club.rules.miniapp.max_age_seconds,
            now=time.time(),
        )
    except InitDataRejected as rejected:
        raise Refused(401, "launch_refused", headers=CHALLENGE, reason=rejected.reason) from None
    user = data.user
    request.state.language = user.get("language_code")  # refusals from here on speak it
    name = " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k)) or None
    return Launch(Actor(data.user_id, name), user.get("language_code"))


Launched = Annotated[Launch, Depends(launched)]


async def administrator(request: Request, launch: Launched) -> Launch:
    """The checked launch of an administrator of the staff group; 403 ``staff_only`` for anyone
    else, and for everyone when the app was served without a bot to ask (``is_admin`` None)."""
    is_admin: IsAdmin | None = request.app.state.is_admin
    if is_admin is None or not await is_admin(launch.actor.id):
        raise Refused(403, "staff_only")
    return launch


Administrator = Annotated[Launch, Depends(administrator)]
