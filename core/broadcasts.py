"""Broadcasts: one run of a campaign, a personal message per member of its audience, in the outbox.

A run writes every member's message in one transaction (the caller's), and marks the campaign as
run in the same transaction: a crash before the commit loses the whole run, which the next sweep
redoes, and a crash after it loses nothing. The audience is the campaign's segment, narrowed to
members who take offers (:func:`core.messaging.may_receive_offers`) and are under their weekly cap.

What a message may name about its member (:class:`Recipient`) is read per batch of members in two
grouped queries, with the club's one definition of qualifying points (:mod:`core.tiers`) and of
points expiring soon (:mod:`core.lots`). Turning those facts into words in the member's language is
the face's (``variables``), as is the button under the message (``markup``).

The job (:func:`launch_due`) runs each due campaign in a transaction of its own; the staff group's
progress message for a run is read and remembered here too (:func:`progress_of`,
:func:`remember_progress_message`), so the face that posts it holds no session.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import campaigns, holdouts, messaging, outbox, segments, template_worker
from core.campaigns import CampaignStatus
from core.club import Club
from core.db import snapshot, transaction
from core.errors import BashgahError
from core.lots import EXPIRING_SOON, expiring_per_member
from core.models import Campaign, Member, PointsLot, Purchase
from core.rules import Rules
from core.tiers import qualifying_cutoff, qualifying_points_per_member

BATCH = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    """A member of a run's audience and the facts their message may name."""

    member: Member
    qualifying_points: int
    expiring_points: int  # within :data:`core.lots.EXPIRING_SOON`
    expiring_at: datetime | None  # the soonest of those lots


@dataclass(frozen=True)
class Run:
    """A run written: the campaign (its ``runs`` and next run updated) and the rows written."""

    campaign: Campaign
    written: int


@dataclass(frozen=True)
class Progress:
    """How a campaign's messages stand, for its progress message in the staff group."""

    campaign: Campaign
    counts: dict[str, int]  # deliveries by status

    @property
    def done(self) -> bool:
        """Nothing left to send: the progress message becomes the summary."""
        return not self.counts.get("pending") and not self.counts.get("sending")


Variables = Callable[[Recipient], dict[str, object]]
Markup = Callable[[Campaign], dict[str, Any] | None]


async def launch_due(
    club: Club, now: datetime, *, variables: Variables, markup: Markup
) -> AsyncIterator[Run]:
    """The job: run every campaign whose time has come, yielding each run once it is committed.

    Each run is a transaction of its own (:func:`launch`), so the face can post its progress
    between them. A campaign that cannot run (a :class:`~core.errors.BashgahError`, such as a
    template that fails) is logged and skipped; the others still run.
    """
    async with transaction(club.sessions) as session:
        due = [c.id for c in await campaigns.due(session, now)]
    for campaign_id in due:
        try:
            done = await launch(club, campaign_id, now, variables=variables, markup=markup)
        except BashgahError:
            log.warning("campaign %s could not run", campaign_id, exc_info=True)
            continue
        if done is not None:
            yield done


async def launch(
    club: Club, campaign_id: int, now: datetime, *, variables: Variables, markup: Markup
) -> Run | None:
    """:func:`run` in a transaction of its own, its days counted in the club's time zone."""
    async with transaction(club.sessions) as session:
        return await run(
            session, club.rules, campaign_id, now, club.settings.tz,
            variables=variables, markup=markup,
        )  # fmt: skip


async def progress_of(club: Club, campaign_id: int) -> Progress:
    """The campaign and its deliveries by status, read together."""
    async with snapshot(club.sessions) as session:
        campaign = await campaigns.get(session, campaign_id)
        return Progress(campaign, await outbox.counts(session, campaign_id))


async def remember_progress_message(
    club: Club, campaign_id: int, chat_id: int, message_id: int
) -> None:
    """Where the campaign's progress message was posted, so later batches edit it."""
    async with transaction(club.sessions) as session:
        campaign = await campaigns.get(session, campaign_id)
        campaign.progress_chat_id, campaign.progress_message_id = chat_id, message_id


async def run(
    session: AsyncSession,
    rules: Rules,
    campaign_id: int,
    now: datetime,
    tz: ZoneInfo,
    *,
    variables: Variables,
    markup: Markup,
) -> Run | None:
    """Write the campaign's next run to the outbox; ``None`` if it is not scheduled (any more).

    Each message is keyed ``campaign:<id>:<run>:<member>`` and waits for the end of the member's
    quiet hours. The campaign's holdout (:mod:`core.holdouts`) gets no message and is recorded
    instead. Each batch's messages are rendered in one job of :mod:`core.template_worker`, off the
    event loop and within its time budget; a template that fails for one member raises, and the
    whole run is rolled back.
    """
    campaign = await campaigns.get(session, campaign_id)
    if campaign.status != CampaignStatus.SCHEDULED:
        return None
    number = campaign.runs + 1
    reply_markup = markup(campaign)
    written = 0
    members = await audience(session, rules, campaign.segment, now, tz)
    holdout = rules.campaigns.holdout_percent
    for start in range(0, len(members), BATCH):
        sending: list[tuple[Recipient, datetime]] = []
        for recipient in await recipients(session, rules, members[start : start + BATCH], now):
            member = recipient.member
            send_at = messaging.send_after(member, rules, now, tz)
            if holdouts.held_out(campaign.id, member.id, holdout):
                holdouts.hold_out(session, campaign.id, number, member.id, send_at)
            else:
                sending.append((recipient, send_at))
        texts = await template_worker.render_each(
            campaign.template, [variables(recipient) for recipient, _ in sending]
        )
        for (recipient, send_at), text in zip(sending, texts, strict=True):
            member = recipient.member
            row = await outbox.enqueue(
                session, chat_id=member.telegram_id, kind=messaging.OFFER,
                dedupe_key=f"campaign:{campaign.id}:{number}:{member.id}", text=text,
                member_id=member.id, campaign_id=campaign.id, reply_markup=reply_markup,
                not_before=send_at, now=now,
            )  # fmt: skip
            written += row is not None
    campaign.runs = number
    campaign.next_run_at = campaigns.next_run(campaign, now, tz) if campaign.cron else None
    campaign.status = CampaignStatus.SCHEDULED if campaign.next_run_at else CampaignStatus.DONE
    return Run(campaign, written)


async def audience(
    session: AsyncSession, rules: Rules, segment_rule: str, now: datetime, tz: ZoneInfo
) -> list[Member]:
    """The members of the segment (its days counted in the club's zone) who may get this offer
    now, by member number."""
    segment = segments.parse(segment_rule, rules)
    query = (
        select(Member)
        .where(
            Member.id.in_(segments.member_ids(segment, now.astimezone(tz))),
            messaging.may_receive_offers(),
            messaging.under_cap(rules, now),
        )
        .order_by(Member.id)
    )
    return list(await session.scalars(query))


async def recipients(
    session: AsyncSession, rules: Rules, batch: Sequence[Member], now: datetime
) -> list[Recipient]:
    """The batch's facts, with two grouped queries for the batch, not two per member."""
    ids = [m.id for m in batch]
    rows = await session.execute(
        expiring_per_member(now, EXPIRING_SOON).where(PointsLot.member_id.in_(ids))
    )
    expiring = {member_id: (int(points or 0), first) for member_id, first, points in rows.all()}
    per_member = qualifying_points_per_member(qualifying_cutoff(rules, now))
    qualifying = dict((await session.execute(per_member.where(Purchase.member_id.in_(ids)))).all())
    return [
        Recipient(
            member,
            int(qualifying.get(member.id) or 0),
            *expiring.get(member.id, (0, None)),
        )
        for member in batch
    ]
