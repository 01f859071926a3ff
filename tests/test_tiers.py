"""Tests for core.tiers: qualifying points, upgrades on purchase, the monthly evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import members, purchases, tiers
from core.db import transaction
from core.models import Member, TierChange, TierEvaluation
from core.rules import ClubCalendar, Rules, Tier
from tests.helpers import assert_books_balance, new_member

TEHRAN = ZoneInfo("Asia/Tehran")
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
_references = count(1)


# --- helpers --------------------------------------------------------------------------------


async def buy(
    session: AsyncSession, rules: Rules, member_id: int, amount: int, at: datetime
) -> purchases.PurchaseResult:
    return await purchases.record(
        session, rules, member_id, amount, reference=f"T-{next(_references)}", now=at
    )


async def reload(session: AsyncSession, member_id: int) -> Member:
    """The member as the database has it (the evaluation updates rows behind the ORM's back)."""
    member = await session.get(Member, member_id, populate_existing=True)
    assert member is not None
    return member


async def changes(session: AsyncSession, member_id: int | None = None) -> list[tuple]:
    query = select(
        TierChange.member_id,
        TierChange.old_tier,
        TierChange.new_tier,
        TierChange.qualifying_points,
        TierChange.reason,
    ).order_by(TierChange.id)
    if member_id is not None:
        query = query.where(TierChange.member_id == member_id)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def tier_state(session: AsyncSession) -> dict[int, tuple[str, str | None]]:
    rows = await session.execute(select(Member.id, Member.tier, Member.tier_warning))
    return {member_id: (tier, warning) for member_id, tier, warning in rows.all()}


async def change_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(TierChange))


async def member_at(
    session: AsyncSession, rules: Rules, now: datetime, tier: str, *, name: str = "Sara"
) -> Member:
    """A member who reached ``tier`` by purchases more than a year ago: 0 qualifying points now."""
    member = await new_member(session, rules, now - 400 * DAY, name=name)
    threshold = rules.tier(tier).threshold
    if threshold:
        await buy(session, rules, member.id, threshold * 1000, now - 380 * DAY)
    member = await reload(session, member.id)
    assert member.tier == tier
    assert await tiers.qualifying_points(session, rules, member.id, now) == 0
    return member


@pytest.fixture
def rules() -> Rules:
    """These tests name evaluation periods by Gregorian month (``2026-03``); since issue 14 the
    default calendar is Jalali, which has its own tests below."""
    return Rules(calendar=ClubCalendar.GREGORIAN)


def ladder(*tiers_: tuple[str, int, str]) -> Rules:
    return Rules(
        calendar=ClubCalendar.GREGORIAN,
        tiers=tuple(Tier(key=k, threshold=t, multiplier=Decimal(m)) for k, t, m in tiers_),
    )


# --- upgrades on purchase -------------------------------------------------------------------


async def test_threshold_purchase_upgrades_and_earns_at_the_old_rate(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)

    first = await buy(session, rules, member.id, 999_999, now)
    assert (first.points, first.tier_before, first.tier_after) == (999, "bronze", "bronze")
    assert await changes(session, member.id) == []

    crossing = await buy(session, rules, member.id, 1_000, now + SECOND)
    assert crossing.points == 1  # bronze rate: the purchase that crosses earns at the old tier
    assert (crossing.tier_before, crossing.tier_after) == ("bronze", "silver")
    assert await changes(session, member.id) == [(member.id, "bronze", "silver", 1_000, "purchase")]
    assert (await reload(session, member.id)).tier == "silver"

    after = await buy(session, rules, member.id, 10_000, now + 2 * SECOND)
    assert after.points == 12  # 10 x 1.25 = 12.5, floored
    assert (after.tier_before, after.tier_after) == ("silver", "silver")
    assert len(await changes(session, member.id)) == 1

    stored = await reload(session, member.id)
    assert stored.balance == 999 + 1 + 12
    assert await tiers.qualifying_points(session, rules, member.id, now + DAY) == 1_012
    await assert_books_balance(session, member.id)


@pytest.mark.parametrize(
    ("amount", "points", "tier"),
    [
        (999_999, 999, "bronze"),
        (1_000_000, 1_000, "silver"),
        (4_999_999, 4_999, "silver"),
        (5_000_000, 5_000, "gold"),
        (19_999_999, 19_999, "gold"),
        (20_000_000, 20_000, "platinum"),
    ],
)
async def test_a_single_purchase_lands_on_the_tier_its_points_reach(
    session: AsyncSession, rules: Rules, now: datetime, amount: int, points: int, tier: str
) -> None:
    member = await new_member(session, rules, now)
    result = await buy(session, rules, member.id, amount, now)
    assert result.points == points  # always at the bronze rate: the member was bronze
    assert result.tier_after == tier
    assert (await reload(session, member.id)).tier == tier
    expected = [] if tier == "bronze" else [(member.id, "bronze", tier, points, "purchase")]
    assert await changes(session, member.id) == expected
    await assert_books_balance(session, member.id)


async def test_a_purchase_jumping_two_tiers_writes_one_change(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await buy(session, rules, member.id, 900_000, now)
    result = await buy(session, rules, member.id, 4_100_000, now + SECOND)
    assert (result.points, result.tier_before, result.tier_after) == (4_100, "bronze", "gold")
    assert await changes(session, member.id) == [(member.id, "bronze", "gold", 5_000, "purchase")]

    nxt = await buy(session, rules, member.id, 3_000, now + 2 * SECOND)
    assert nxt.points == 4  # 3 x 1.5 = 4.5, floored
    await assert_books_balance(session, member.id)


@pytest.mark.parametrize(
    ("tier", "amount", "points"),
    [
        ("bronze", 1_999, 1),
        ("bronze", 999, 0),
        ("silver", 3_000, 3),  # 3.75
        ("silver", 4_000, 5),
        ("gold", 1_000, 1),  # 1.5
        ("gold", 3_000, 4),  # 4.5
        ("platinum", 1_500, 2),
        ("platinum", 999, 0),
    ],
)
async def test_the_tier_multiplier_is_floored(
    session: AsyncSession, rules: Rules, now: datetime, tier: str, amount: int, points: int
) -> None:
    member = await member_at(session, rules, now, tier)
    before = member.balance
    result = await buy(session, rules, member.id, amount, now)
    assert result.points == points
    assert (await reload(session, member.id)).balance == before + points
    await assert_books_balance(session, member.id)


async def test_a_warned_member_upgrading_by_purchase_loses_the_warning(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_at(session, rules, now, "silver")
    await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert (await reload(session, member.id)).tier_warning == "2026-03"

    await buy(session, rules, member.id, 5_000_000, now + DAY)  # 6,250 points: gold
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("gold", None)


# --- the qualifying window ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "counts"),
    [
        (366 * DAY, False),
        (365 * DAY, False),  # the cutoff itself: strictly after it counts
        (365 * DAY - SECOND, True),
        (364 * DAY, True),
        (timedelta(0), True),
    ],
)
async def test_qualifying_window_boundary(
    session: AsyncSession, rules: Rules, now: datetime, age: timedelta, counts: bool
) -> None:
    member = await new_member(session, rules, now - 400 * DAY)
    await buy(session, rules, member.id, 999_000, now - age)
    assert await tiers.qualifying_points(session, rules, member.id, now) == (999 if counts else 0)

    # One more point today crosses silver only if the old purchase is still in the window.
    await buy(session, rules, member.id, 1_000, now)
    assert (await reload(session, member.id)).tier == ("silver" if counts else "bronze")


async def test_qualifying_window_follows_the_rules(session: AsyncSession, now: datetime) -> None:
    rules = Rules(tier_policy={"qualifying_window_days": 30})
    member = await new_member(session, rules, now - 40 * DAY)
    await buy(session, rules, member.id, 100_000, now - 30 * DAY)
    await buy(session, rules, member.id, 20_000, now - 29 * DAY)
    assert await tiers.qualifying_points(session, rules, member.id, now) == 20


async def test_refunded_purchases_do_not_qualify(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 10 * DAY)
    await buy(session, rules, member.id, 300_000, now - 10 * DAY)
    big = await buy(session, rules, member.id, 900_000, now - 5 * DAY)
    assert big.tier_after == "silver"
    assert await tiers.qualifying_points(session, rules, member.id, now) == 1_200

    await purchases.refund(session, big.purchase.reference, now=now - DAY)
    assert await tiers.qualifying_points(session, rules, member.id, now) == 300
    # A refund does not downgrade on the spot: that waits for the evaluation and its warning.
    assert (await reload(session, member.id)).tier == "silver"
    await assert_books_balance(session, member.id)

    evaluation = await tiers.evaluate_all(session, rules, now, TEHRAN)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", "2026-03")
    assert evaluation.warned == 1


# --- the monthly evaluation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        (datetime(2026, 3, 31, 20, 29, 59, tzinfo=UTC), "2026-03"),
        (datetime(2026, 3, 31, 20, 30, tzinfo=UTC), "2026-04"),  # midnight in Tehran
        (datetime(2026, 12, 31, 20, 30, tzinfo=UTC), "2027-01"),
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), "2026-03"),
        (datetime(2026, 2, 28, 20, 29, 59, tzinfo=UTC), "2026-02"),
    ],
)
def test_evaluation_period_is_the_tehran_month(moment: datetime, period: str) -> None:
    assert tiers.evaluation_period(moment, TEHRAN, ClubCalendar.GREGORIAN) == period


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        (datetime(2026, 3, 20, 20, 29, 59, tzinfo=UTC), "1404-12"),  # 29 Esfand 1404, 23:59
        (datetime(2026, 3, 20, 20, 30, tzinfo=UTC), "1405-01"),  # Nowruz, midnight in Tehran
        (datetime(2026, 4, 20, 20, 29, 59, tzinfo=UTC), "1405-01"),  # 31 Farvardin
        (datetime(2026, 4, 20, 20, 30, tzinfo=UTC), "1405-02"),  # 1 Ordibehesht
        (datetime(2026, 11, 25, 12, 0, tzinfo=UTC), "1405-09"),  # 4 Azar
    ],
)
def test_evaluation_period_is_the_jalali_month_by_default(moment: datetime, period: str) -> None:
    assert Rules().calendar is ClubCalendar.JALALI
    assert tiers.evaluation_period(moment, TEHRAN, Rules().calendar) == period


async def test_the_default_evaluation_runs_once_per_jalali_month(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules()  # calendar = "jalali"
    member = await new_member(session, rules, now - 400 * DAY)
    await buy(session, rules, member.id, 2_000_000, now - 380 * DAY)  # silver then, 0 points now
    esfand = await tiers.evaluate_all(session, rules, now, TEHRAN)  # 10 Esfand 1404
    assert (esfand.period, esfand.warned) == ("1404-12", 1)
    # 1 April is still 12 Farvardin: one evaluation for the new Jalali month, not a second one
    # for the new Gregorian month.
    nowruz = await tiers.evaluate_all(
        session, rules, datetime(2026, 3, 21, 9, 0, tzinfo=UTC), TEHRAN
    )
    april = await tiers.evaluate_all(session, rules, datetime(2026, 4, 1, 9, 0, tzinfo=UTC), TEHRAN)
    assert (nowruz.period, nowruz.downgraded) == ("1405-01", 1)
    assert april.period == "1405-01" and april.ran_at == nowruz.ran_at
    assert (await reload(session, member.id)).tier == "bronze"


async def test_evaluation_warns_first_then_downgrades_next_month(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_at(session, rules, now, "silver")
    purchase_changes = await changes(session, member.id)

    march = await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert (march.period, march.warned, march.downgraded, march.upgraded) == ("2026-03", 1, 0, 0)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", "2026-03")
    assert await changes(session, member.id) == purchase_changes

    april_now = now + 31 * DAY
    april = await tiers.evaluate_all(session, rules, april_now, TEHRAN)
    assert (april.period, april.warned, april.downgraded, april.upgraded) == ("2026-04", 0, 1, 0)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("bronze", None)
    assert (await changes(session, member.id))[len(purchase_changes) :] == [
        (member.id, "silver", "bronze", 0, "evaluation")
    ]
    evaluation_row = await session.scalar(
        select(TierChange).where(TierChange.reason == "evaluation")
    )
    assert evaluation_row.created_at == april_now


async def test_downgrade_goes_to_the_tier_the_points_support(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_at(session, rules, now, "platinum")
    await buy(session, rules, member.id, 700_000, now - 10 * DAY)  # 1,400 points at x2: silver
    await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert (await reload(session, member.id)).tier == "platinum"

    await tiers.evaluate_all(session, rules, now + 31 * DAY, TEHRAN)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", None)
    assert (await changes(session, member.id))[-1] == (
        member.id,
        "platinum",
        "silver",
        1_400,
        "evaluation",
    )


async def test_the_downgrade_waits_for_the_next_tehran_month(
    session: AsyncSession, rules: Rules
) -> None:
    warned_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    member = await member_at(session, rules, warned_at, "silver")
    await tiers.evaluate_all(session, rules, warned_at, TEHRAN)

    # Still March 31st in Tehran: the same period, so nothing happens.
    same = await tiers.evaluate_all(
        session, rules, datetime(2026, 3, 31, 20, 29, 59, tzinfo=UTC), TEHRAN
    )
    assert same.period == "2026-03"
    assert (await reload(session, member.id)).tier == "silver"

    # Midnight in Tehran while it is still March 31st in UTC: April's evaluation downgrades.
    nxt = await tiers.evaluate_all(
        session, rules, datetime(2026, 3, 31, 20, 30, tzinfo=UTC), TEHRAN
    )
    assert (nxt.period, nxt.downgraded) == ("2026-04", 1)
    assert (await reload(session, member.id)).tier == "bronze"


async def test_recovering_clears_the_warning(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_at(session, rules, now, "silver")
    await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert (await reload(session, member.id)).tier_warning == "2026-03"

    result = await buy(session, rules, member.id, 900_000, now + 5 * DAY)  # 1,125 points
    assert result.tier_after == "silver"
    assert (await reload(session, member.id)).tier_warning == "2026-03"  # until the evaluation
    before = await change_count(session)

    april = await tiers.evaluate_all(session, rules, now + 31 * DAY, TEHRAN)
    assert (april.warned, april.downgraded, april.upgraded) == (0, 0, 0)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", None)
    assert await change_count(session) == before

    # Falling below again later starts a fresh warning, not a downgrade.
    may = await tiers.evaluate_all(session, rules, now + 31 * DAY + 366 * DAY, TEHRAN)
    assert (may.warned, may.downgraded) == (1, 0)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", "2027-04")


async def test_evaluating_twice_in_a_month_changes_nothing(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    warned = await member_at(session, rules, now, "silver", name="Warned")
    downgraded = await member_at(session, rules, now, "gold", name="Downgraded")
    downgraded.tier_warning = "2026-02"
    await session.flush()

    first = await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert (first.warned, first.downgraded, first.upgraded) == (1, 1, 0)
    counts = (first.warned, first.downgraded, first.upgraded)
    # Something new happens in the same month: a third member falls below.
    late = await member_at(session, rules, now, "silver", name="Late")
    recorded = await changes(session)
    state = await tier_state(session)
    assert state[warned.id] == ("silver", "2026-03")
    assert state[downgraded.id] == ("bronze", None)
    assert state[late.id] == ("silver", None)

    second = await tiers.evaluate_all(session, rules, now + 20 * DAY, TEHRAN)
    assert second.period == first.period
    assert (second.warned, second.downgraded, second.upgraded) == counts
    assert second.ran_at == now
    assert await changes(session) == recorded
    assert await tier_state(session) == state
    assert await session.scalar(select(func.count()).select_from(TierEvaluation)) == 1


async def test_a_second_evaluation_in_another_transaction_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as session:
        member = await member_at(session, rules, now, "gold")
        member.tier_warning = "2026-02"
    async with transaction(sessions) as session:
        first = await tiers.evaluate_all(session, rules, now, TEHRAN)
        assert first.downgraded == 1
    async with transaction(sessions) as session:
        second = await tiers.evaluate_all(session, rules, now + DAY, TEHRAN)
        assert (second.warned, second.downgraded, second.upgraded) == (0, 1, 0)
    async with transaction(sessions) as session:
        stored = await reload(session, member.id)
        assert (stored.tier, stored.tier_warning) == ("bronze", None)
        assert [c[-1] for c in await changes(session, member.id)] == ["purchase", "evaluation"]


async def test_erased_members_are_skipped(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    below = await member_at(session, rules, now, "silver", name="Below")
    below.tier_warning = "2026-02"  # would be downgraded if counted
    await session.flush()
    above = await new_member(session, rules, now, name="Above")
    await buy(session, rules, above.id, 600_000, now - DAY)
    await members.anonymize(session, below.id)
    await members.anonymize(session, above.id)
    before = await change_count(session)

    lower = ladder(("bronze", 0, "1"), ("silver", 500, "1.25"))
    evaluation = await tiers.evaluate_all(session, lower, now, TEHRAN)
    assert (evaluation.warned, evaluation.downgraded, evaluation.upgraded) == (0, 0, 0)
    assert (await reload(session, below.id)).tier == "silver"
    assert (await reload(session, above.id)).tier == "bronze"
    assert await change_count(session) == before


async def test_evaluation_upgrades_when_the_rules_lower_a_threshold(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules()
    near = await new_member(session, rules, now, name="Near")
    far = await new_member(session, rules, now, name="Far")
    stays = await new_member(session, rules, now, name="Stays")
    await buy(session, rules, near.id, 600_000, now - DAY)
    await buy(session, rules, far.id, 999_000, now - DAY)
    await buy(session, rules, stays.id, 400_000, now - DAY)
    far.tier_warning = "2026-02"  # an upgrade clears any warning
    await session.flush()

    lower = ladder(("bronze", 0, "1"), ("silver", 500, "1.25"), ("gold", 900, "1.5"))
    evaluation = await tiers.evaluate_all(session, lower, now, TEHRAN)
    assert (evaluation.upgraded, evaluation.downgraded, evaluation.warned) == (2, 0, 0)
    stored_near = await reload(session, near.id)
    assert (stored_near.tier, stored_near.tier_warning) == ("silver", None)
    stored_far = await reload(session, far.id)
    assert (stored_far.tier, stored_far.tier_warning) == ("gold", None)
    assert (await reload(session, stays.id)).tier == "bronze"
    assert sorted(await changes(session)) == sorted(
        [
            (near.id, "bronze", "silver", 600, "evaluation"),
            (far.id, "bronze", "gold", 999, "evaluation"),
        ]
    )


async def test_a_raised_threshold_warns_before_it_downgrades(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules()
    member = await new_member(session, rules, now)
    await buy(session, rules, member.id, 6_000_000, now - DAY)  # 6,000 points: gold
    higher = ladder(("bronze", 0, "1"), ("silver", 1_000, "1.25"), ("gold", 10_000, "1.5"))
    await tiers.evaluate_all(session, higher, now, TEHRAN)
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("gold", "2026-03")
    await tiers.evaluate_all(session, higher, now + 31 * DAY, TEHRAN)
    assert (await reload(session, member.id)).tier == "silver"


async def test_a_removed_tier_with_points_for_a_known_tier_moves_onto_it(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await buy(session, rules, member.id, 1_200_000, now - DAY)  # 1,200 points: silver
    member.tier = "diamond"  # a tier the club has since removed from its rules
    await session.flush()

    evaluation = await tiers.evaluate_all(session, rules, now, TEHRAN)
    assert evaluation.upgraded == 1
    stored = await reload(session, member.id)
    assert (stored.tier, stored.tier_warning) == ("silver", None)
    assert (await changes(session, member.id))[-1] == (
        member.id,
        "diamond",
        "silver",
        1_200,
        "evaluation",
    )


async def test_a_removed_tier_without_points_moves_onto_the_base_tier(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    member.tier = "diamond"
    await session.flush()

    await tiers.evaluate_all(session, rules, now, TEHRAN)  # must not raise
    stored = await reload(session, member.id)
    assert stored.tier in rules.tier_keys
