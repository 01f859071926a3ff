"""``/erase <member>``: an administrator erases a member's personal data (the ledger stays)."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.staff_access import actor, staff_only
from bot.staff_args import shape
from core import audit, members


@staff_only(admin=True)
async def erase(update: Update, context: BotContext) -> None:
    query = " ".join(shape("erase", context.args, 1))
    async with context.db() as s:
        member = await members.find(s, query)
        # The log keeps what the books need, never the name or number being erased.
        before = {"status": str(member.status), "balance": member.balance}
        await members.anonymize(s, member.id)
        await audit.record(
            s, action="erase", member_id=member.id, before=before, after={"status": "erased"},
            actor=actor(update),
        )  # fmt: skip
    await context.say(update, "staff/erased", number=member.id)
