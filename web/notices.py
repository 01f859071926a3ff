"""Telling a member what the API did: the staff command's own notice, queued in the outbox.

A staff command tells the member directly once its action has committed
(``bot.notifications.direct``). The API has no Telegram bot, so it renders the same template in the
member's language and leaves the sending to the outbox sender (:func:`core.notices.queue`). The
row's key names the purchase and the event, so however often it is asked, a member is told once;
a member the bot cannot reach gets no row.

It is written after the action's commit, as the chat's direct notice is: if writing it fails, the
purchase stands and the request answers 500, and its retry is refused as a duplicate reference, so
that member is not told. Writing it inside the action's transaction (as draws do) would close this.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from core import notices
from core.club import Club
from core.models import Member
from texts import Translator

PURCHASE, REFUND, CLAWBACK = "notify/purchase", "notify/refund", "notify/clawback"


@cache
def _translator(tz: ZoneInfo, locale: str) -> Translator:
    """One per club setting: building the Jinja2 environments once, not on every request."""
    return Translator(tz, locale)


async def tell(club: Club, member: Member, key: str, purchase_id: int, **values: Any) -> bool:
    """Queue template ``key`` for ``member`` about a purchase, keyed
    ``notice:<topic>:<purchase id>`` (``notify/refund`` is topic ``refund``); False if nothing
    was written (unreachable, or written before)."""
    translator = _translator(club.settings.tz, club.settings.locale)
    text = translator(member.locale, key, member=member, **values)
    topic = key.removeprefix("notify/")
    return await notices.queue(club, member, f"notice:{topic}:{purchase_id}", text)
