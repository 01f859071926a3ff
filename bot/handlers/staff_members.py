"""``/erase <member>``: an administrator erases a member's personal data (the ledger stays)."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.staff_access import actor, staff_only
from bot.staff_args import shape
from core.actions import membership


@staff_only(admin=True)
async def erase(update: Update, context: BotContext) -> None:
    query = " ".join(shape("erase", context.args, 1))
    erased = await membership.erase(context.club, actor(update), query)
    await context.say(update, "staff/erased", number=erased.member.id)
