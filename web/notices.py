"""Telling a member what the API did: the staff command's own notice, in the member's language.

A staff command tells the member directly once its action has committed
(``bot.notifications.direct``). The API has no Telegram bot, so it hands the core action a
``render`` of the same templates, and the action writes the notice into the outbox in its own
transaction (:mod:`core.notices`): never lost, never twice, none for a member the bot cannot reach.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from core.club import Club
from core.models import Member
from core.notices import Render
from texts import Translator


@cache
def _translator(tz: ZoneInfo, locale: str) -> Translator:
    """One per club setting: building the Jinja2 environments once, not on every request."""
    return Translator(tz, locale)


def renderer(club: Club) -> Render:
    """The club's templates for a member's notice, in the member's language."""
    translator = _translator(club.settings.tz, club.settings.locale)

    def render(key: str, member: Member, **values: Any) -> str:
        return translator(member.locale, key, member=member, **values)

    return render
