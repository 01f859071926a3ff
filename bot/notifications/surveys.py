"""The survey sweep: due survey invites become outbox messages, driven by the database.

Each run writes NPS invites for the members whose period has come (at most once an hour once
they are all written, as that pass reads every member), then turns due invites into outbox rows
with the scale as buttons, each waiting for the end of the member's quiet hours, and marks the
invites sent in the same transaction. A crash before the commit leaves the invites pending for the
next run; after it, the dedupe key ``survey:<invite>`` keeps a second run from writing them again.
The outbox sender sends them; nothing here talks to Telegram.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.context import BotContext
from bot.handlers.surveys import question
from core import surveys
from core.models import utcnow

SWEEP_SECONDS = 30
DUE_BATCH = 500  # invites written to the outbox per run, in one transaction
NPS_RECHECK = timedelta(hours=1)
_NPS_NEXT = "survey_nps_next"


async def sweep(context: BotContext, now: datetime | None = None) -> None:
    """Job: schedule NPS, then queue every due survey (up to ``DUE_BATCH``) in the outbox."""
    now = now or utcnow()
    rules = context.club.rules
    next_nps = context.bot_data.get(_NPS_NEXT)
    if next_nps is None or now >= next_nps:
        async with context.db() as s:
            written = await surveys.schedule_nps(s, rules, now)
        # A full batch means more members wait: go on next run; else look again in an hour.
        context.bot_data[_NPS_NEXT] = now if written >= surveys.NPS_BATCH else now + NPS_RECHECK
    async with context.db() as s:
        await surveys.queue_due(
            s, rules, now, tz=context.t.tz, limit=DUE_BATCH,
            render=lambda invite, member: question(context.t, rules, invite, member),
        )  # fmt: skip
