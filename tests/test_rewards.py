"""Tests for core.rewards: validation, the visible catalogue, and seeding from the rules file."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, redemptions, rewards
from core.errors import InvalidInput, RewardNotFound, RewardUnavailable
from core.models import EntryKind, Reward
from core.rules import Allocation, RewardSeed, Rules
from tests.helpers import assert_books_balance, new_member

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


async def stored(session: AsyncSession, reward_id: int) -> Reward:
    reward = await session.get(Reward, reward_id, populate_existing=True)
    assert reward is not None
    return reward


async def reward_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Reward))


def valid(**overrides: Any) -> dict[str, Any]:
    return {"title": "Free coffee", "cost": 100, "stock": 10, **overrides}


# --- create and update ----------------------------------------------------------------------


async def test_create_stores_a_cleaned_reward(session: AsyncSession, rules: Rules) -> None:
    reward = await rewards.create(
        session,
        rules,
        title="  Free \n  coffee\t",
        cost=250,
        stock=None,
        min_tier="silver",
        allocation="first_come",
    )
    row = await stored(session, reward.id)
    assert (row.title, row.cost, row.stock, row.min_tier) == ("Free coffee", 250, None, "silver")
    assert (row.allocation, row.active, row.key) == ("first_come", True, None)
    assert await rewards.get(session, reward.id) is reward


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("title", "", "bad_title"),
        ("title", "   \n\t ", "bad_title"),
        ("title", "x" * 121, "bad_title"),
        ("cost", 0, "bad_cost"),
        ("cost", -1, "bad_cost"),
        ("cost", -100, "bad_cost"),
        ("cost", rewards.MAX_COST + 1, "bad_cost"),
        ("cost", 10**18, "bad_cost"),
        ("stock", -1, "bad_stock"),
        ("stock", rewards.MAX_STOCK + 1, "bad_stock"),
        ("min_tier", "diamond", "unknown_tier"),
        ("min_tier", "Silver", "unknown_tier"),
    ],
)
async def test_create_rejects_bad_fields(
    session: AsyncSession, rules: Rules, field: str, value: Any, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await rewards.create(session, rules, **valid(**{field: value}))
    assert caught.value.reason == reason
    assert await reward_count(session) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "x" * 120),
        ("title", "ق" * 120),
        ("cost", 1),
        ("cost", rewards.MAX_COST),
        ("stock", 0),
        ("stock", rewards.MAX_STOCK),
        ("stock", None),
        ("min_tier", None),
        ("min_tier", "platinum"),
    ],
)
async def test_create_accepts_the_edges(
    session: AsyncSession, rules: Rules, field: str, value: Any
) -> None:
    reward = await rewards.create(session, rules, **valid(**{field: value}))
    assert getattr(await stored(session, reward.id), field) == value


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("title", " ", "bad_title"),
        ("title", "y" * 121, "bad_title"),
        ("cost", 0, "bad_cost"),
        ("cost", -5, "bad_cost"),
        ("cost", rewards.MAX_COST + 1, "bad_cost"),
        ("stock", -1, "bad_stock"),
        ("min_tier", "diamond", "unknown_tier"),
    ],
)
async def test_update_rejects_bad_fields_and_changes_nothing(
    session: AsyncSession, rules: Rules, field: str, value: Any, reason: str
) -> None:
    reward = await rewards.create(session, rules, **valid(min_tier="silver"))
    with pytest.raises(InvalidInput) as caught:
        # A good change alongside the bad one must not be applied either.
        await rewards.update(session, rules, reward.id, description="new", **{field: value})
    assert caught.value.reason == reason
    row = await stored(session, reward.id)
    assert (row.title, row.cost, row.stock, row.min_tier, row.description) == (
        "Free coffee",
        100,
        10,
        "silver",
        "",
    )


async def test_update_changes_only_the_given_fields(session: AsyncSession, rules: Rules) -> None:
    reward = await rewards.create(session, rules, **valid(min_tier="gold"))
    await rewards.update(session, rules, reward.id, title="  Two  coffees ", cost=180)
    row = await stored(session, reward.id)
    assert (row.title, row.cost, row.stock, row.min_tier) == ("Two coffees", 180, 10, "gold")
    await rewards.update(session, rules, reward.id, stock=None, min_tier=None, active=False)
    row = await stored(session, reward.id)
    assert (row.stock, row.min_tier, row.active) == (None, None, False)


async def test_update_of_an_unknown_reward(session: AsyncSession, rules: Rules) -> None:
    with pytest.raises(RewardNotFound):
        await rewards.update(session, rules, 999_999, cost=5)


@pytest.mark.parametrize(
    ("field", "value"),
    [("cost", True), ("cost", 1.5), ("cost", "100"), ("stock", True), ("stock", 2.5)],
)
async def test_create_rejects_non_integer_numbers(
    session: AsyncSession, rules: Rules, field: str, value: Any
) -> None:
    with pytest.raises(InvalidInput):
        await rewards.create(session, rules, **valid(**{field: value}))


async def test_create_rejects_an_unknown_allocation(session: AsyncSession, rules: Rules) -> None:
    with pytest.raises(InvalidInput):
        await rewards.create(session, rules, **valid(allocation="raffle"))


# --- the visible catalogue ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "visible"),
    [
        ("bronze", ["open", "bronze+"]),
        ("silver", ["open", "bronze+", "silver+"]),
        ("gold", ["open", "bronze+", "silver+", "gold+"]),
        ("platinum", ["open", "bronze+", "silver+", "gold+", "platinum+"]),
        ("diamond", ["open", "bronze+"]),  # a tier the rules no longer know ranks as the base
    ],
)
async def test_visible_to_respects_the_tier(
    session: AsyncSession, rules: Rules, now: datetime, tier: str, visible: list[str]
) -> None:
    await rewards.create(session, rules, title="platinum+", cost=50, min_tier="platinum")
    await rewards.create(session, rules, title="gold+", cost=40, min_tier="gold")
    await rewards.create(session, rules, title="silver+", cost=30, min_tier="silver")
    await rewards.create(session, rules, title="bronze+", cost=20, min_tier="bronze")
    await rewards.create(session, rules, title="open", cost=10)
    assert [r.title for r in await rewards.visible_to(session, rules, tier, now)] == visible


@pytest.mark.parametrize(
    ("starts", "ends", "active", "visible"),
    [
        (None, None, True, True),
        (None, None, False, False),
        (timedelta(0), None, True, True),  # starts now
        (SECOND, None, True, False),  # starts in a second
        (-DAY, None, True, True),
        (None, timedelta(0), True, False),  # ends now: already over
        (None, SECOND, True, True),
        (None, -SECOND, True, False),
        (-DAY, DAY, True, True),
        (-DAY, DAY, False, False),
    ],
)
async def test_visible_to_respects_the_window_and_the_active_flag(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    starts: timedelta | None,
    ends: timedelta | None,
    active: bool,
    visible: bool,
) -> None:
    reward = await rewards.create(
        session,
        rules,
        title="Cake",
        cost=10,
        active=active,
        starts_at=None if starts is None else now + starts,
        ends_at=None if ends is None else now + ends,
    )
    listed = [r.id for r in await rewards.visible_to(session, rules, "bronze", now)]
    assert listed == ([reward.id] if visible else [])
    assert rewards.is_open(await stored(session, reward.id), now) is visible


async def test_visible_to_is_ordered_by_cost_then_age(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    costs = [300, 100, 200, 100, 50]
    ids = [
        (await rewards.create(session, rules, title=f"r{i}", cost=c)).id
        for i, c in enumerate(costs)
    ]
    listed = await rewards.visible_to(session, rules, "platinum", now)
    assert [r.cost for r in listed] == [50, 100, 100, 200, 300]
    assert [r.id for r in listed] == [ids[4], ids[1], ids[3], ids[2], ids[0]]


async def test_visible_to_and_redeem_agree_on_a_removed_min_tier(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await ledger.credit(
        session, member.id, 500, EntryKind.BONUS, "gift", expires_at=now + 30 * DAY, now=now
    )
    reward = await rewards.create(session, rules, title="Old perk", cost=100, min_tier="gold")
    # The club later drops the gold tier from its rules.
    reward.min_tier = "diamond"
    await session.flush()

    shown = reward.id in [r.id for r in await rewards.visible_to(session, rules, "bronze", now)]
    try:
        await redemptions.redeem(session, rules, member.id, reward.id, request_key="k", now=now)
        redeemable = True
    except RewardUnavailable:
        redeemable = False
    await assert_books_balance(session, member.id)
    assert shown == redeemable


# --- seeding from the rules file ------------------------------------------------------------


def seeded(*seeds: RewardSeed) -> Rules:
    return Rules(rewards=seeds)


async def test_sync_catalogue_creates_new_keys_only(session: AsyncSession) -> None:
    # Issue 14 changed this: the file seeds new rewards only, and a known key is left alone.
    first = seeded(
        RewardSeed(key="coffee", title="Free coffee", cost=100),
        RewardSeed(key="mug", title="Mug", cost=900, stock=20, min_tier="gold"),
    )
    assert await rewards.sync_catalogue(session, first) == 2
    rows = {r.key: r for r in await session.scalars(select(Reward))}
    assert set(rows) == {"coffee", "mug"}
    assert (rows["coffee"].title, rows["coffee"].cost, rows["coffee"].stock) == (
        "Free coffee",
        100,
        None,
    )
    assert (rows["mug"].stock, rows["mug"].min_tier, rows["mug"].allocation) == (
        20,
        "gold",
        Allocation.FIRST_COME,
    )
    ids = {key: row.id for key, row in rows.items()}

    second = seeded(
        RewardSeed(key="coffee", title="Coffee of the day", cost=120, description="any size"),
        RewardSeed(key="mug", title="Mug", cost=900, stock=20, min_tier="gold"),
        RewardSeed(key="cake", title="Cake", cost=300, stock=3, allocation="lottery"),
    )
    assert await rewards.sync_catalogue(session, second) == 1
    assert await reward_count(session) == 3
    coffee = await stored(session, ids["coffee"])
    assert (coffee.key, coffee.title, coffee.cost, coffee.description) == (
        "coffee",
        "Free coffee",
        100,
        "",
    )
    cake = await session.scalar(select(Reward).where(Reward.key == "cake"))
    assert cake.allocation == "lottery"

    assert await rewards.sync_catalogue(session, second) == 0
    assert await reward_count(session) == 3


async def test_sync_catalogue_leaves_other_rewards_alone(
    session: AsyncSession, rules: Rules
) -> None:
    staff = await rewards.create(session, rules, title="Staff pick", cost=70)
    await rewards.sync_catalogue(session, seeded(RewardSeed(key="coffee", title="Coffee", cost=1)))
    assert await reward_count(session) == 2
    assert (await stored(session, staff.id)).title == "Staff pick"
    assert await rewards.sync_catalogue(session, Rules()) == 0
    assert await reward_count(session) == 2


async def test_a_restart_does_not_restock_what_was_redeemed(
    session: AsyncSession, now: datetime
) -> None:
    rules = seeded(RewardSeed(key="room", title="Hotel night", cost=100, stock=10))
    await rewards.sync_catalogue(session, rules)
    reward = await session.scalar(select(Reward).where(Reward.key == "room"))
    member = await new_member(session, rules, now)
    await ledger.credit(
        session, member.id, 300, EntryKind.BONUS, "gift", expires_at=now + 30 * DAY, now=now
    )
    for n in range(3):
        await redemptions.redeem(session, rules, member.id, reward.id, request_key=f"r{n}", now=now)
    assert (await stored(session, reward.id)).stock == 7

    await rewards.sync_catalogue(session, rules)  # the bot restarts with the same rules file
    assert (await stored(session, reward.id)).stock == 7
