"""Staff commands for segments and campaigns: preview a segment, list, pause, resume, cancel.

Creating, pausing, resuming and cancelling campaigns is for administrators; previewing a segment
and listing campaigns is for all staff.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import audit, campaigns, segments
from core.campaigns import CampaignStatus
from core.models import utcnow

SAMPLE = 5


@staff_only()
async def segment_preview(update: Update, context: BotContext) -> None:
    """/segment <rule>"""
    text = " ".join(shape("segment", context.args, 1))
    segment = segments.parse(text, context.club.rules)
    now = utcnow().astimezone(context.t.tz)  # "birthday within 7 days" counts the club's days
    async with context.db() as s:
        count = await segments.count(s, segment, now)
        sample = await segments.sample(s, segment, now, limit=SAMPLE)
    await context.say(update, "staff/segment", rule=segment.text, count=count, sample=sample)


@staff_only()
async def list_campaigns(update: Update, context: BotContext) -> None:
    """/campaigns"""
    async with context.db() as s:
        found = await campaigns.listing(s)
    await context.say(update, "staff/campaigns", campaigns=found)


async def _set(update: Update, context: BotContext, command: str, status: str) -> None:
    [text] = shape(command, context.args, 1, 1)
    try:
        campaign_id = positive(text.lstrip("#"), 10**12)
    except ValueError:
        raise UsageError(command) from None
    async with context.db() as s:
        before = (await campaigns.get(s, campaign_id)).status
        campaign = await campaigns.set_status(s, campaign_id, status, context.t.tz, utcnow())
        await audit.record(
            s, action=command, before={"status": before}, after={"status": campaign.status},
            actor=actor(update),
        )  # fmt: skip
    await context.say(update, "staff/campaign_status", campaign=campaign)


@staff_only(admin=True)
async def pause(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_pause", CampaignStatus.PAUSED)


@staff_only(admin=True)
async def resume(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_resume", CampaignStatus.SCHEDULED)


@staff_only(admin=True)
async def cancel(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_cancel", CampaignStatus.CANCELLED)
