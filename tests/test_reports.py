"""Tests for core.reports: the club's numbers against a hand-built club, and one member's page."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import adjustments, allocation, ledger, members, purchases, redemptions, reports, rewards
from core.errors import MemberNotFound
from core.expiry import expire_due
from core.models import EntryKind, LedgerEntry, Member, MemberStatus
from core.reports import TopReward
from core.rules import Rules
from tests.helpers import new_member

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
_keys = count(1)


async def joined(
    session: AsyncSession,
    rules: Rules,
    at: datetime,
    *,
    name: str = "Sara",
    code: str | None = None,
) -> Member:
    return await new_member(session, rules, at, name=name, referral_code=code)


async def bonus(
    session: AsyncSession, member_id: int, points: int, now: datetime, *, expires_at: datetime
) -> None:
    await ledger.credit(
        session,
        member_id,
        points,
        EntryKind.BONUS,
        f"bonus-{next(_keys)}",
        expires_at=expires_at,
        now=now,
    )


async def redeem(session: AsyncSession, rules: Rules, member_id: int, reward_id: int, now):
    return await redemptions.redeem(
        session, rules, member_id, reward_id, request_key=f"req-{next(_keys)}", now=now
    )


async def ledger_total(session: AsyncSession) -> int:
    return await session.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)))


async def test_an_empty_club(session: AsyncSession, rules: Rules, now: datetime) -> None:
    stats = await reports.club_stats(session, rules, now)
    assert stats == reports.ClubStats(
        members_by_tier={"bronze": 0, "silver": 0, "gold": 0, "platinum": 0},
        members_total=0,
        members_active=0,
        new_members_7d=0,
        new_members_30d=0,
        points_issued=0,
        points_redeemed=0,
        points_expired=0,
        points_reversed=0,
        points_deducted=0,
        points_outstanding=0,
        points_pending=0,
        points_owed=0,
        redemption_rate=0.0,
        top_rewards=(),
    )


async def test_club_stats_of_a_hand_built_club(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    far = now + 300 * DAY
    a = await joined(session, rules, now - 40 * DAY, name="A")
    b = await joined(session, rules, now - 10 * DAY, name="B")
    c = await joined(session, rules, now - 3 * DAY, name="C")
    d = await joined(session, rules, now - 2 * DAY, name="D")
    e = await joined(session, rules, now - 100 * DAY, name="E")
    coffee = await rewards.create(session, rules, title="Coffee", cost=100, stock=None)
    cake = await rewards.create(session, rules, title="Cake", cost=50, stock=None)
    tea = await rewards.create(session, rules, title="Tea", cost=10, stock=None)

    # A: earns 2,000 on a purchase (and becomes silver); 200 bonus points expire.
    await purchases.record(session, rules, a.id, 2_000_000, reference="A-1", now=now - 5 * DAY)
    await bonus(session, a.id, 200, now - 20 * DAY, expires_at=now - DAY)
    assert await expire_due(session, now) == 200
    # B: 500 bonus; Coffee confirmed, Coffee cancelled (refunded), Cake reserved.
    await bonus(session, b.id, 500, now - 5 * DAY, expires_at=far)
    kept = await redeem(session, rules, b.id, coffee.id, now - DAY)
    await redemptions.confirm(session, kept.code, actor_id=1, now=now - DAY)
    dropped = await redeem(session, rules, b.id, coffee.id, now - DAY)
    await redemptions.cancel(session, dropped.id, now=now - DAY)
    await redeem(session, rules, b.id, cake.id, now - DAY)
    # C: earns 300, earns 100 then the purchase is refunded; staff +50 and -30.
    await purchases.record(session, rules, c.id, 300_000, reference="C-1", now=now - 2 * DAY)
    await purchases.record(session, rules, c.id, 100_000, reference="C-2", now=now - 2 * DAY)
    await purchases.refund(session, "C-2", now=now - DAY)
    for delta, key in ((50, "c+"), (-30, "c-")):
        await adjustments.adjust(
            session, rules, c.id, delta, reason="staff", actor_id=9, key=key, now=now - DAY
        )
    # C also redeems Tea and cancels it: a cancelled redemption is not a top reward.
    gone = await redeem(session, rules, c.id, tea.id, now - DAY)
    await redemptions.cancel(session, gone.id, now=now - DAY)
    # D: 70 bonus, then asks to be forgotten (the points stay on the books).
    await bonus(session, d.id, 70, now - DAY, expires_at=far)
    await members.anonymize(session, d.id)
    # A wins the top spenders' prize: held, and free.
    room = await rewards.create(
        session, rules, title="Room", cost=1, stock=1, allocation="top_spenders"
    )
    await allocation.draw(session, rules, room.id, now=now)
    # E: blocked the bot; still a member.
    e.status = MemberStatus.BLOCKED
    await session.flush()

    stats = await reports.club_stats(session, rules, now)

    assert stats.members_by_tier == {"bronze": 3, "silver": 1, "gold": 0, "platinum": 0}
    assert (stats.members_total, stats.members_active) == (4, 3)
    assert (stats.new_members_7d, stats.new_members_30d) == (1, 2)
    issued = 2_000 + 200 + 500 + 300 + 100 + 50 + 70
    assert stats.points_issued == issued == 3_220
    assert stats.points_redeemed == 100 + 50  # Coffee and Cake; the cancelled ones came back
    assert stats.points_expired == 200
    assert stats.points_reversed == 100
    assert stats.points_deducted == 30
    assert stats.points_outstanding == 2_000 + (500 - 150) + (300 + 50 - 30) + 70 == 2_740
    assert stats.points_outstanding == await ledger_total(session)
    assert stats.points_outstanding == (
        stats.points_issued
        - stats.points_redeemed
        - stats.points_expired
        - stats.points_reversed
        - stats.points_deducted
    )
    assert stats.redemption_rate == pytest.approx(150 / 3_220)
    assert stats.top_rewards == (
        TopReward("Coffee", 1),
        TopReward("Cake", 1),
        TopReward("Room", 1),
    )


@pytest.mark.parametrize(
    ("joined_ago", "in_7", "in_30"),
    [
        (timedelta(0), 1, 1),
        (7 * DAY - SECOND, 1, 1),
        (7 * DAY, 0, 1),
        (30 * DAY - SECOND, 0, 1),
        (30 * DAY, 0, 0),
        (365 * DAY, 0, 0),
    ],
)
async def test_new_members_windows(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    joined_ago: timedelta,
    in_7: int,
    in_30: int,
) -> None:
    await joined(session, rules, now - joined_ago)
    stats = await reports.club_stats(session, rules, now)
    assert (stats.members_total, stats.new_members_7d, stats.new_members_30d) == (1, in_7, in_30)


async def test_top_rewards_are_the_five_most_held(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await joined(session, rules, now - 30 * DAY)
    await bonus(session, member.id, 1_000, now - DAY, expires_at=now + DAY)
    held = {"R6": 6, "R5": 5, "R4": 4, "R3": 3, "R2a": 2, "R2b": 2}
    for title, times in held.items():
        item = await rewards.create(session, rules, title=title, cost=1, stock=None)
        for _ in range(times):
            await redeem(session, rules, member.id, item.id, now)

    stats = await reports.club_stats(session, rules, now)
    assert stats.top_rewards == (
        ("R6", 6),
        ("R5", 5),
        ("R4", 4),
        ("R3", 3),
        ("R2a", 2),  # ties go to the older reward
    )


async def test_a_tier_the_rules_dropped_still_counts(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await joined(session, rules, now)
    member.tier = "diamond"
    await joined(session, rules, now)
    await session.flush()
    stats = await reports.club_stats(session, rules, now)
    assert stats.members_by_tier == {
        "bronze": 1,
        "silver": 0,
        "gold": 0,
        "platinum": 0,
        "diamond": 1,
    }
    assert sum(stats.members_by_tier.values()) == stats.members_total == 2


# --- one member -----------------------------------------------------------------------------


async def test_member_summary(session: AsyncSession, rules: Rules, now: datetime) -> None:
    referrer = await joined(session, rules, now - 60 * DAY, name="Referrer")
    friend = await joined(
        session, rules, now - 50 * DAY, name="Friend", code=referrer.referral_code
    )
    await joined(session, rules, now - 40 * DAY, name="Idle", code=referrer.referral_code)
    for n in range(7):
        await purchases.record(
            session, rules, referrer.id, 100_000, reference=f"R-{n}", now=now - (10 - n) * DAY
        )
    await purchases.record(session, rules, friend.id, 200_000, reference="F-1", now=now - 5 * DAY)
    coffee = await rewards.create(session, rules, title="Coffee", cost=100, stock=None)
    held = await redeem(session, rules, referrer.id, coffee.id, now - DAY)
    done = await redeem(session, rules, referrer.id, coffee.id, now - DAY)
    await redemptions.confirm(session, done.code, actor_id=1, now=now)

    summary = await reports.member_summary(session, rules, referrer.id, now)

    assert summary.member.id == referrer.id
    assert summary.qualifying_points == 700
    assert [p.reference for p in summary.recent_purchases] == ["R-6", "R-5", "R-4", "R-3", "R-2"]
    assert [r.id for r in summary.open_redemptions] == [held.id]
    assert (summary.referrals.joined, summary.referrals.rewarded) == (2, 1)
    assert summary.referrals.points_earned == rules.referral.referrer_bonus
    assert summary.next_tier is not None and summary.next_tier.key == "silver"
    assert summary.points_to_next_tier == 1_000 - 700


@pytest.mark.parametrize(
    ("tier", "next_tier", "missing"),
    [("bronze", "silver", 1_000), ("silver", "gold", 5_000), ("gold", "platinum", 20_000)],
)
async def test_member_summary_next_tier(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    tier: str,
    next_tier: str,
    missing: int,
) -> None:
    member = await joined(session, rules, now)
    member.tier = tier
    await session.flush()
    summary = await reports.member_summary(session, rules, member.id, now)
    assert summary.next_tier is not None
    assert (summary.next_tier.key, summary.points_to_next_tier) == (next_tier, missing)
    assert summary.recent_purchases == [] and summary.open_redemptions == []


async def test_member_summary_at_the_top_and_past_the_threshold(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    top = await joined(session, rules, now)
    top.tier = "platinum"
    # Held at silver by the evaluation's grace month, with points already past gold: 0 to go.
    waiting = await joined(session, rules, now)
    await purchases.record(session, rules, waiting.id, 6_000_000, reference="W", now=now)
    waiting.tier = "silver"
    await session.flush()
    at_top = await reports.member_summary(session, rules, top.id, now)
    assert (at_top.next_tier, at_top.points_to_next_tier) == (None, None)
    past = await reports.member_summary(session, rules, waiting.id, now)
    assert past.next_tier is not None and past.next_tier.key == "gold"
    assert past.points_to_next_tier == 0


async def test_member_summary_of_an_unknown_member(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    with pytest.raises(MemberNotFound):
        await reports.member_summary(session, rules, 424_242, now)
