"""Running campaigns: due campaigns become outbox rows, and the staff group watches them go out.

A run writes every member's personalized message in one transaction (so a crash before the commit
loses the whole run, which the next sweep redoes, and a crash after it loses nothing), and marks
the campaign as run in the same transaction. The sender drains the rows; after each batch the
campaign's progress message in the staff group is edited, at most every few seconds, and replaced
by a summary when nothing is left to send.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import TelegramError

from bot import callbacks
from bot.context import BotContext
from core import campaigns, messaging, outbox, referrals, segments
from core.campaigns import CampaignStatus
from core.digits import format_number
from core.errors import BashgahError
from core.models import Campaign, Member, PointsLot, Purchase, PurchaseStatus, utcnow

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30
PROGRESS_EVERY_SECONDS = 5.0
EXPIRY_WINDOW = timedelta(days=30)
BATCH = 500
_LAST_EDIT = "campaign_progress_edits"


async def run_due(context: BotContext) -> None:
    """Job: start every campaign whose time has come."""
    now = utcnow()
    async with context.db() as s:
        due = [c.id for c in await campaigns.due(s, now)]
    for campaign_id in due:
        try:
            await run_campaign(context, campaign_id, now)
        except BashgahError:
            log.warning("campaign %s could not run", campaign_id, exc_info=True)


async def run_campaign(context: BotContext, campaign_id: int, now: datetime) -> int:
    """Write one run of the campaign to the outbox; returns how many messages were written."""
    rules, tz = context.club.rules, context.t.tz
    async with context.db() as s:
        campaign = await campaigns.get(s, campaign_id)
        if campaign.status != CampaignStatus.SCHEDULED:
            return 0
        run = campaign.runs + 1
        segment = segments.parse(campaign.segment, rules)
        audience = (
            select(Member)
            .where(
                Member.id.in_(segments.member_ids(segment, now.astimezone(tz))),
                messaging.may_receive_offers(),
                messaging.under_cap(rules, now),
            )
            .order_by(Member.id)
        )
        written = 0
        markup = _markup(campaign)
        for batch in _batches(list(await s.scalars(audience)), BATCH):
            for member, variables in zip(
                batch, await _variables(context, s, batch, now), strict=True
            ):
                row = await outbox.enqueue(
                    s, chat_id=member.telegram_id, kind=messaging.OFFER,
                    dedupe_key=f"campaign:{campaign.id}:{run}:{member.id}",
                    text=campaigns.render(campaign.template, variables), member_id=member.id,
                    campaign_id=campaign.id, reply_markup=markup,
                    not_before=messaging.send_after(member, rules, now, tz), now=now,
                )  # fmt: skip
                written += row is not None
        campaign.runs = run
        campaign.next_run_at = campaigns.next_run(campaign, now, tz) if campaign.cron else None
        campaign.status = CampaignStatus.SCHEDULED if campaign.next_run_at else CampaignStatus.DONE
    await _post_progress(context, campaign, written)
    return written


def _batches(items: Sequence[Member], size: int) -> list[Sequence[Member]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


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


async def _variables(
    context: BotContext, session: AsyncSession, batch: Sequence[Member], now: datetime
) -> list[dict[str, object]]:
    """Template variables per member, with two grouped queries per batch, not two per member."""
    rules = context.club.rules
    ids = [m.id for m in batch]
    rows = await session.execute(
        select(PointsLot.member_id, func.sum(PointsLot.remaining), func.min(PointsLot.expires_at))
        .where(PointsLot.member_id.in_(ids), PointsLot.remaining > 0,
               PointsLot.expires_at > now, PointsLot.expires_at <= now + EXPIRY_WINDOW)
        .group_by(PointsLot.member_id)
    )  # fmt: skip
    expiring = {member_id: (points, soonest) for member_id, points, soonest in rows.all()}
    cutoff = now - timedelta(days=rules.tier_policy.qualifying_window_days)
    qualifying = dict(
        (
            await session.execute(
                select(Purchase.member_id, func.sum(Purchase.points))
                .where(Purchase.member_id.in_(ids), Purchase.status == PurchaseStatus.COMPLETED,
                       Purchase.created_at > cutoff)
                .group_by(Purchase.member_id)
            )
        ).all()
    )  # fmt: skip
    out = []
    for member in batch:
        locale = member.locale
        following = rules.next_tier(member.tier)
        points, soonest = expiring.get(member.id, (0, None))
        out.append({
            "name": member.name or "",
            "tier": context.t(locale, "labels/tier", tier=member.tier),
            "balance": format_number(member.balance, locale),
            "member_number": format_number(member.id, locale),
            "next_tier": context.t(locale, "labels/tier", tier=following.key) if following else "",
            "to_next_tier": format_number(
                max(following.threshold - int(qualifying.get(member.id) or 0), 0), locale
            ) if following else "",
            "expiring_points": format_number(int(points or 0), locale),
            "expiring_date": context.t(locale, "labels/date", when=soonest) if soonest else "",
            "referral_link": referrals.invite_link(context.bot.username, member),
        })  # fmt: skip
    return out


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
    async with context.db() as s:
        stored = await campaigns.get(s, campaign_id)
        stored.progress_chat_id, stored.progress_message_id = staff_chat, message.message_id


async def progress(context: BotContext, campaign_id: int, rate: float | None = None) -> None:
    """The sender's hook after a batch: edit the progress message, or write the final summary."""
    edits: dict[int, float] = context.bot_data.setdefault(_LAST_EDIT, {})
    async with context.db() as s:
        campaign = await campaigns.get(s, campaign_id)
        counts = await outbox.counts(s, campaign_id)
    done = not counts.get("pending") and not counts.get("sending")
    if not done and time.monotonic() - edits.get(campaign_id, 0.0) < PROGRESS_EVERY_SECONDS:
        return
    edits[campaign_id] = time.monotonic()
    text = context.t(
        context.bot_data["settings"].locale, "staff/campaign_progress",
        campaign=campaign, counts=counts, rate=rate, done=done,
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
