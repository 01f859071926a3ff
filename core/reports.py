"""Numbers for the staff: the club at a glance, and one member on one screen.

Everything is an SQL aggregate (a handful of ``GROUP BY`` queries), never a loop over members or
ledger rows, so the report costs the same for a hundred members as for a million rows of history.

Point flows, all from the ledger (a debit is negative, so each flow is reported as a positive sum):

- ``points_issued``: credits that create points: ``earn``, ``referral``, ``bonus`` and positive
  ``adjust`` entries;
- ``points_redeemed``: net spend on rewards, ``-(sum of redeem + sum of refund)``; a refund only
  ever gives back a cancelled or expired redemption, so the two cancel out;
- ``points_expired``: ``-sum of expire``;
- ``points_reversed``: ``-sum of reversal`` (points taken back when a purchase was refunded);
- ``points_deducted``: ``-sum of negative adjust`` (staff deductions).

So ``issued - redeemed - expired - reversed - deducted == outstanding``, the sum of every balance:
the points the club still owes, its liability. Beside it, ``points_pending``: points promised by
purchases still in their return window (not in any balance yet), and ``points_owed``: what refunded
purchases and clawed-back bonuses could not take back, to be recovered from points that come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import members, purchases, redemptions, referrals, tiers
from core.models import (
    Branch,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    PointsLot,
    Purchase,
    PurchaseStatus,
    Redemption,
    RedemptionStatus,
    Reward,
)
from core.purchases import PendingPoints
from core.referrals import ReferralStats
from core.rules import Rules, Tier

TOP_REWARDS = 5
RECENT_PURCHASES = 5
ISSUING_KINDS = (EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BONUS, EntryKind.ADJUST)


class TopReward(NamedTuple):
    title: str
    redemptions: int  # reserved or confirmed


@dataclass(frozen=True)
class ClubStats:
    members_by_tier: dict[str, int]  # every tier of the rules, erased members left out
    members_total: int  # not erased
    members_active: int
    new_members_7d: int
    new_members_30d: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_reversed: int
    points_deducted: int
    points_outstanding: int  # the sum of all balances: the club's liability
    points_pending: int  # promised by purchases in their return window: liability to come
    points_owed: int  # not taken back from refunds and clawbacks yet
    redemption_rate: float  # redeemed / issued; 0.0 before anything is issued
    top_rewards: tuple[TopReward, ...]


@dataclass(frozen=True)
class PointFlows:
    """The ledger's flows (see the module's docstring), each a positive sum."""

    issued: int
    redeemed: int
    expired: int
    reversed: int
    deducted: int


async def point_flows(
    session: AsyncSession, since: datetime | None = None, until: datetime | None = None
) -> PointFlows:
    """The flows of every entry, or of those made in ``[since, until)``: one grouped query."""
    positive = func.coalesce(func.sum(case((LedgerEntry.delta > 0, LedgerEntry.delta), else_=0)), 0)
    negative = func.coalesce(func.sum(case((LedgerEntry.delta < 0, LedgerEntry.delta), else_=0)), 0)
    query = select(LedgerEntry.kind, positive, negative).group_by(LedgerEntry.kind)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    flows = {
        kind: (int(plus), int(minus)) for kind, plus, minus in (await session.execute(query)).all()
    }

    def plus(kind: EntryKind) -> int:
        return flows.get(kind, (0, 0))[0]

    def minus(kind: EntryKind) -> int:
        return -flows.get(kind, (0, 0))[1]

    return PointFlows(
        issued=sum(plus(kind) for kind in ISSUING_KINDS),
        redeemed=minus(EntryKind.REDEEM) - plus(EntryKind.REFUND),
        expired=minus(EntryKind.EXPIRE),
        reversed=minus(EntryKind.REVERSAL),
        deducted=minus(EntryKind.ADJUST),
    )


async def club_stats(session: AsyncSession, rules: Rules, now: datetime) -> ClubStats:
    counted = Member.status != MemberStatus.ERASED
    by_tier = dict.fromkeys(rules.tier_keys, 0)
    rows = await session.execute(
        select(Member.tier, func.count()).where(counted).group_by(Member.tier)
    )
    for tier, number in rows.all():
        by_tier[tier] = int(number)  # a tier the rules dropped still shows, so the sum is right

    def joined_since(days: int) -> ColumnElement[int]:
        return func.coalesce(
            func.sum(case((Member.joined_at > now - timedelta(days=days), 1), else_=0)), 0
        )

    active = func.coalesce(func.sum(case((Member.status == MemberStatus.ACTIVE, 1), else_=0)), 0)
    total, active_count, new_7, new_30 = (
        await session.execute(
            select(func.count(), active, joined_since(7), joined_since(30)).where(counted)
        )
    ).one()

    flows = await point_flows(session)
    outstanding = await session.scalar(select(func.coalesce(func.sum(Member.balance), 0)))
    owed = await session.scalar(select(func.coalesce(func.sum(PointsLot.owed), 0)))

    held = Redemption.status.in_([RedemptionStatus.RESERVED, RedemptionStatus.CONFIRMED])
    top = await session.execute(
        select(Reward.title, func.count(Redemption.id).label("n"))
        .join(Redemption, Redemption.reward_id == Reward.id)
        .where(held)
        .group_by(Reward.id, Reward.title)
        .order_by(func.count(Redemption.id).desc(), Reward.id)
        .limit(TOP_REWARDS)
    )
    return ClubStats(
        members_by_tier=by_tier,
        members_total=int(total),
        members_active=int(active_count),
        new_members_7d=int(new_7),
        new_members_30d=int(new_30),
        points_issued=flows.issued,
        points_redeemed=flows.redeemed,
        points_expired=flows.expired,
        points_reversed=flows.reversed,
        points_deducted=flows.deducted,
        points_outstanding=int(outstanding or 0),
        points_pending=await purchases.pending_total(session),
        points_owed=int(owed or 0),
        redemption_rate=flows.redeemed / flows.issued if flows.issued else 0.0,
        top_rewards=tuple(TopReward(title, int(n)) for title, n in top.all()),
    )


@dataclass(frozen=True)
class BranchSales:
    """One branch's till: what its purchases brought, and the rewards it handed over.

    Members and points are the club's, not a branch's (points earned in one are spent in any),
    so a branch's numbers are its sales alone.
    """

    code: str
    name: str
    purchases: int  # recorded and not refunded (pending ones included)
    amount: int  # their total, in the club's currency
    points: int  # the points they earned
    refunds: int  # purchases refunded
    handovers: int  # rewards handed over here, whoever's points paid for them


async def branch_sales(session: AsyncSession, branch_id: int | None = None) -> list[BranchSales]:
    """The sales of branch ``branch_id``, or of every branch (None), oldest branch first."""
    kept = Purchase.status != PurchaseStatus.REFUNDED

    def total(value: ColumnElement[int] | int, when: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((when, value), else_=0)), 0)

    sold = select(
        Purchase.branch_id,
        total(1, kept),
        total(Purchase.amount, kept),
        total(Purchase.points, kept),
        total(1, ~kept),
    ).group_by(Purchase.branch_id)
    handed = (
        select(Redemption.branch_id, func.count())
        .where(Redemption.status == RedemptionStatus.CONFIRMED, Redemption.branch_id.is_not(None))
        .group_by(Redemption.branch_id)
    )
    shops = select(Branch).order_by(Branch.id)
    if branch_id is not None:
        sold = sold.where(Purchase.branch_id == branch_id)
        handed = handed.where(Redemption.branch_id == branch_id)
        shops = shops.where(Branch.id == branch_id)
    sales = {row[0]: [int(n) for n in row[1:]] for row in (await session.execute(sold)).all()}
    handovers = {shop_id: int(n) for shop_id, n in (await session.execute(handed)).all()}
    return [
        BranchSales(shop.code, shop.name, *sales.get(shop.id, [0, 0, 0, 0]),
                    handovers=handovers.get(shop.id, 0))
        for shop in await session.scalars(shops)
    ]  # fmt: skip


@dataclass(frozen=True)
class MemberSummary:
    """What staff see for ``/member``."""

    member: Member
    qualifying_points: int
    pending: PendingPoints  # waiting in return windows: not in the balance, not for tiers
    recent_purchases: list[Purchase]  # newest first
    open_redemptions: list[Redemption]  # reserved, oldest first
    referrals: ReferralStats
    next_tier: Tier | None  # None at the top of the ladder
    points_to_next_tier: int | None  # qualifying points still missing; None at the top


async def member_summary(
    session: AsyncSession, rules: Rules, member_id: int, now: datetime
) -> MemberSummary:
    member = await members.get(session, member_id)
    qualifying = await tiers.qualifying_points(session, rules, member_id, now)
    following = rules.next_tier(member.tier)
    return MemberSummary(
        member=member,
        qualifying_points=qualifying,
        pending=await purchases.pending(session, member_id),
        recent_purchases=await purchases.recent(session, member_id, RECENT_PURCHASES),
        open_redemptions=await redemptions.open_for_member(session, member_id),
        referrals=await referrals.stats(session, member_id),
        next_tier=following,
        points_to_next_tier=(
            max(0, following.threshold - qualifying) if following is not None else None
        ),
    )
