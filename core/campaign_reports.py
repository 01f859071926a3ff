"""What a campaign did: how its messages fared, and what its recipients bought and redeemed in the
week after, next to its holdout (:mod:`core.holdouts`), who got nothing.

The unit is one message: a delivered one (status ``sent``) counts from its ``sent_at``; a held-out
member's message that was never sent counts from the moment it would have gone out, once that
moment has passed. Each has a window of :data:`WINDOW_DAYS` days from there, and in it:

- purchases: recorded and not refunded, with their amounts;
- redemptions: rewards the member paid for with points, unless they cancelled the code (a prize
  won in a draw is nobody's choice, so it is left out).

A group's conversion is the share of its messages followed by at least one purchase (or
redemption) in their window; a member counts once per message, so a recurring campaign counts each
run. The lift is the recipients' conversion minus the holdout's, with its 95 % margin of error by
the normal approximation for the difference of two proportions,
``1.96 * sqrt(p1 (1 - p1) / n1 + p2 (1 - p2) / n2)``. With fewer than :data:`MIN_GROUP` messages
in either group that approximation says little, so there is no lift: "not enough data".

Each group is one query: per message, correlated counts of its window's purchases and redemptions
(by member and time, on their indexes), summed in the same statement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import campaigns, outbox
from core.models import (
    Campaign,
    CampaignHoldout,
    Delivery,
    DeliveryStatus,
    Purchase,
    PurchaseStatus,
    Redemption,
    RedemptionStatus,
)
from core.sql_time import days_after

WINDOW_DAYS = 7
MIN_GROUP = 30  # messages in each group before a lift is worth a margin
Z = 1.96  # 95 % confidence


@dataclass(frozen=True)
class Group:
    """The recipients' messages, or the holdout's, and what followed them within the window."""

    messages: int
    buyers: int  # messages followed by at least one purchase
    purchases: int
    sales: int  # their amounts, in the club's currency
    redeemers: int  # messages followed by at least one redemption
    redemptions: int

    @property
    def buying_rate(self) -> float | None:
        return self.buyers / self.messages if self.messages else None

    @property
    def redeeming_rate(self) -> float | None:
        return self.redeemers / self.messages if self.messages else None


@dataclass(frozen=True)
class Lift:
    """Recipients' conversion minus the holdout's (a fraction: 0.05 is 5 points), and its 95 %
    margin of error."""

    difference: float
    margin: float


@dataclass(frozen=True)
class CampaignReport:
    campaign: Campaign
    counts: dict[str, int]  # deliveries by status
    recipients: Group
    holdout: Group
    buying_lift: Lift | None  # None: not enough data
    redeeming_lift: Lift | None


def lift(hits: int, messages: int, control_hits: int, control_messages: int) -> Lift | None:
    """The difference of two proportions with its margin; None with too few in either group."""
    if min(messages, control_messages) < MIN_GROUP:
        return None
    p, q = hits / messages, control_hits / control_messages
    margin = Z * math.sqrt(p * (1 - p) / messages + q * (1 - q) / control_messages)
    return Lift(p - q, margin)


async def report(session: AsyncSession, campaign_id: int, now: datetime) -> CampaignReport:
    """``/campaigns <id>`` as of ``now`` (see the module's docstring).

    :raises InvalidInput: ``unknown_campaign``.
    """
    campaign = await campaigns.get(session, campaign_id)
    delivered = select(
        Delivery.id, Delivery.member_id, Delivery.sent_at.label("at")
    ).where(
        Delivery.campaign_id == campaign_id,
        Delivery.status == DeliveryStatus.SENT,
        Delivery.member_id.is_not(None),
        Delivery.sent_at.is_not(None),
    )  # fmt: skip
    held = select(CampaignHoldout.id, CampaignHoldout.member_id, CampaignHoldout.at).where(
        CampaignHoldout.campaign_id == campaign_id, CampaignHoldout.at <= now
    )
    recipients = await _group(session, delivered)
    holdout = await _group(session, held)
    return CampaignReport(
        campaign=campaign,
        counts=await outbox.counts(session, campaign_id),
        recipients=recipients,
        holdout=holdout,
        buying_lift=lift(recipients.buyers, recipients.messages, holdout.buyers, holdout.messages),
        redeeming_lift=lift(
            recipients.redeemers, recipients.messages, holdout.redeemers, holdout.messages
        ),
    )


async def _group(session: AsyncSession, messages: Select[Any]) -> Group:
    """What followed each of ``messages`` (``id, member_id, at``) within its window, summed."""
    message = messages.subquery()
    end = days_after(message.c.at, WINDOW_DAYS)

    def within(member_id: Any, moment: Any) -> Any:
        return and_(member_id == message.c.member_id, moment >= message.c.at, moment < end)

    bought = within(Purchase.member_id, Purchase.created_at)
    kept = Purchase.status != PurchaseStatus.REFUNDED
    redeemed = and_(
        within(Redemption.member_id, Redemption.created_at),
        Redemption.entry_id.is_not(None),
        Redemption.status != RedemptionStatus.CANCELLED,
    )
    each = select(
        select(func.count()).where(bought, kept).scalar_subquery().label("purchases"),
        select(func.coalesce(func.sum(Purchase.amount), 0))
        .where(bought, kept)
        .scalar_subquery()
        .label("sales"),
        select(func.count()).select_from(Redemption).where(redeemed).scalar_subquery()
        .label("redemptions"),
    ).select_from(message).subquery()  # fmt: skip

    def total(value: Any) -> Any:
        return func.coalesce(func.sum(value), 0)

    row = (
        await session.execute(
            select(
                func.count(),
                total(case((each.c.purchases > 0, 1), else_=0)),
                total(each.c.purchases),
                total(each.c.sales),
                total(case((each.c.redemptions > 0, 1), else_=0)),
                total(each.c.redemptions),
            )
        )
    ).one()
    return Group(*(int(value) for value in row))
