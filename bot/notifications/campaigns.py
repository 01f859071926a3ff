"""Running campaigns: due campaigns become outbox rows, and the staff group watches them go out.

A run (:func:`core.broadcasts.launch`; the job's :func:`~core.broadcasts.launch_due`) writes every
member's personalized message in one transaction and marks the campaign as run in the same one;
this module says the member's values in their language. The sender drains the rows; after each
batch the campaign's progress message in the staff group is edited, at most every few seconds, and
replaced by a summary when nothing is left to send.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from telegram.error import TelegramError

from bot import callbacks
from bot.context import BotContext
from core import broadcasts, referrals
from core.digits import format_number
from core.models import Campaign, utcnow

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30
PROGRESS_EVERY_SECONDS = 5.0
_LAST_EDIT = "campaign_progress_edits"


async def run_due(context: BotContext) -> None:
    """Job: start every campaign whose time has come, posting each run's progress."""
    runs = broadcasts.launch_due(
        context.club, utcnow(), variables=_variables_of(context), markup=_markup
    )
    async for done in runs:
        await _post_progress(context, done.campaign, done.written)


async def run_campaign(context: BotContext, campaign_id: int, now: datetime) -> int:
    """Write one run of the campaign to the outbox; returns how many messages were written."""
    done = await broadcasts.launch(
        context.club, campaign_id, now, variables=_variables_of(context), markup=_markup
    )
    if done is None:
        return 0
    await _post_progress(context, done.campaign, done.written)
    return done.written


def _markup(campaign: Campaign) -> dict[str, Any] | None:
    if not campaign.button_text:
        return None
    if campaign.button_url:
        button = {"text": campaign.button_text, "url": campaign.button_url}
    elif campaign.button_reward_id:
        button = {
            "text": campaign.button_text,
            "callback_data": callbacks.REWARD.pack(campaign.button_reward_id),
        }
    else:
        return None
    return {"inline_keyboard": [[button]]}


def _variables_of(context: BotContext) -> broadcasts.Variables:
    """The template's variables for one member, in their language."""

    def variables(recipient: broadcasts.Recipient) -> dict[str, object]:
        member, locale = recipient.member, recipient.member.locale
        following = context.club.rules.next_tier(member.tier)
        soonest = recipient.expiring_at
        return {
            "name": member.name or "",
            "tier": context.t(locale, "labels/tier", tier=member.tier),
            "balance": format_number(member.balance, locale),
            "member_number": format_number(member.id, locale),
            "next_tier": context.t(locale, "labels/tier", tier=following.key) if following else "",
            "to_next_tier": format_number(
                context.club.rules.points_to_next(member.tier, recipient.qualifying_points), locale
            ) if following else "",
            "expiring_points": format_number(recipient.expiring_points, locale),
            "expiring_date": context.t(locale, "labels/date", when=soonest) if soonest else "",
            "referral_link": referrals.invite_link(context.bot.username, member),
        }  # fmt: skip

    return variables


async def _post_progress(context: BotContext, campaign: Campaign, written: int) -> None:
    text = context.t(
        context.bot_data["settings"].locale, "staff/campaign_progress",
        campaign=campaign, counts={"pending": written}, rate=None, done=written == 0,
    )  # fmt: skip
    try:
        await _post_progress_text(context, campaign.id, text)
    except TelegramError:  # Telegram is down: progress() posts a fresh message later
        log.info("could not post the progress of campaign %s", campaign.id, exc_info=True)


async def _post_progress_text(context: BotContext, campaign_id: int, text: str) -> None:
    """Post the progress message in the staff group and remember it for later edits."""
    staff_chat = context.bot_data["settings"].staff_chat_id
    if staff_chat is None:
        return
    message = await context.bot.send_message(staff_chat, text)
    await broadcasts.remember_progress_message(
        context.club, campaign_id, staff_chat, message.message_id
    )


async def progress(context: BotContext, campaign_id: int, rate: float | None = None) -> None:
    """The sender's hook after a batch: edit the progress message, or write the final summary."""
    edits: dict[int, float] = context.bot_data.setdefault(_LAST_EDIT, {})
    standing = await broadcasts.progress_of(context.club, campaign_id)
    campaign, done = standing.campaign, standing.done
    if not done and time.monotonic() - edits.get(campaign_id, 0.0) < PROGRESS_EVERY_SECONDS:
        return
    edits[campaign_id] = time.monotonic()
    text = context.t(
        context.bot_data["settings"].locale, "staff/campaign_progress",
        campaign=campaign, counts=standing.counts, rate=rate, done=done,
    )  # fmt: skip
    try:
        if campaign.progress_message_id is None:  # the first post failed: post it now
            await _post_progress_text(context, campaign.id, text)
        else:
            await context.bot.edit_message_text(
                text, chat_id=campaign.progress_chat_id, message_id=campaign.progress_message_id
            )
    except TelegramError:
        log.info("could not edit the progress of campaign %s", campaign_id, exc_info=True)
