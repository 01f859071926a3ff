"""Telling a member what the API did: the staff command's own notice, queued in the outbox.

A staff command tells the member directly once its action has committed
(``bot.notifications.direct``). The API has no Telegram bot, so it renders the same template in the
member's language and leaves the sending to the outbox sender (:func:`core.notices.queue`). The
row's key names the event, so a retried request that the core action replays writes nothing twice,
and a member the bot cannot reach gets no row.
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
