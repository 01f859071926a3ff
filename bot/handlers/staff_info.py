"""Staff commands that read: the audit log (and, with the reports, a member's file)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import BotContext
from bot.handlers.staff_access import staff_only
from core import audit, members

AUDIT_LINES = 15


@staff_only()
async def audit_log(update: Update, context: BotContext) -> None:
    """/audit [member]"""
    async with context.db() as s:
        member = await members.find(s, " ".join(context.args)) if context.args else None
        entries = await audit.latest(s, member_id=member.id if member else None, limit=AUDIT_LINES)
    await context.say(update, "staff/audit", actions=entries, member=member)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("audit", audit_log))
