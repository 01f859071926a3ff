"""One message to one member right after something happened to them (a purchase, a prize).

Sent after the staff action has committed, so a member is never told about points that a rollback
took away. A member who blocked the bot is marked so, and the staff action still stands.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from core import reachability
from core.models import Member

log = logging.getLogger(__name__)


async def tell_member(context: BotContext, member: Member, key: str, **values: Any) -> bool:
    """Send ``key`` in the member's language; False if they cannot be reached."""
    if not reachability.has_chat(member):
        return False
    text = context.t(member.locale, key, member=member, **values)
    try:
        await context.bot.send_message(member.telegram_id, text)
    except Forbidden:
        await reachability.refused(context.club, member.id)
        return False
    except TelegramError:
        log.warning("could not tell member %s about %s", member.id, key, exc_info=True)
        return False
    return True
