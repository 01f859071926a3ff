"""Tests for core.redemptions: reserve points and stock, confirm by code, cancel, expire."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, members, redemptions, rewards
from core.codes import ALPHABET, format_redemption_code
from core.db import transaction
from core.digits import to_persian_digits
from core.errors import (
    AlreadyConfirmed,
    CodeCancelled,
    CodeExpired,
    CodeNotFound,
    CodeVoid,
    IdempotencyConflict,
    InsufficientPoints,
    MemberInactive,
    OutOfStock,
    RewardNotFound,
    RewardUnavailable,
)
from core.models import (
    EntryKind,
    LedgerEntry,
    LotDraw,
    Member,
    PointsLot,
    Redemption,
    RedemptionStatus,
    Reward,
)
from core.rules import Rules
from tests.helpers import assert_books_balance, new_member

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
VALID = 14 * DAY
CODE = "KM34XY79"  # letters and digits from the alphabet, for the typed-forms table
_keys = count(1)


# --- helpers --------------------------------------------------------------------------------


async def member_with(
    session: AsyncSession, rules: Rules, now: datetime, points: int, *, name: str = "Sara"
) -> Member:
    member = await new_member(session, rules, now - 30 * DAY, name=name)
    if points:
        await give(session, member.id, points, now - 30 * DAY, now + 300 * DAY)
    return member


async def give(
    session: AsyncSession, member_id: int, points: int, at: datetime, expires_at: datetime
) -> PointsLot:
    entry = await ledger.credit(
        session,
        member_id,
        points,
        EntryKind.BONUS,
        f"gift-{next(_keys)}",
        expires_at=expires_at,
        now=at,
    )
    return await session.scalar(select(PointsLot).where(PointsLot.entry_id == entry.id))


async def reward(
    session: AsyncSession, rules: Rules, *, cost: int = 100, stock: int | None = 5, **fields
) -> Reward:
    return await rewards.create(
        session, rules, title="Free coffee", cost=cost, stock=stock, **fields
    )


async def redeem(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    reward_id: int,
    at: datetime,
    key: str | None = None,
) -> Redemption:
    return await redemptions.redeem(
        session, rules, member_id, reward_id, request_key=key or f"req-{next(_keys)}", now=at
    )


async def balance(session: AsyncSession, member_id: int) -> int:
    return await session.scalar(select(Member.balance).where(Member.id == member_id))


async def stock(session: AsyncSession, reward_id: int) -> int | None:
    return await session.scalar(select(Reward.stock).where(Reward.id == reward_id))


async def status(session: AsyncSession, redemption_id: int) -> RedemptionStatus:
    return await session.scalar(select(Redemption.status).where(Redemption.id == redemption_id))


async def entries(session: AsyncSession, member_id: int, kind: EntryKind) -> list[int]:
    rows = await session.scalars(
        select(LedgerEntry.delta)
        .where(LedgerEntry.member_id == member_id, LedgerEntry.kind == kind)
        .order_by(LedgerEntry.id)
    )
    return list(rows)


async def redemption_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Redemption))


async def lots(session: AsyncSession, member_id: int) -> list[tuple[int, int, int]]:
    rows = await session.execute(
        select(PointsLot.id, PointsLot.points, PointsLot.remaining)
        .where(PointsLot.member_id == member_id)
        .order_by(PointsLot.id)
    )
    return [tuple(row) for row in rows.all()]


@pytest.fixture
def fixed_code(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(redemptions, "new_code", lambda length: CODE)
    yield CODE


# --- redeem ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("stock_before", "stock_after"), [(5, 4), (1, 0), (None, None)])
async def test_redeem_debits_cost_and_stock(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    stock_before: int | None,
    stock_after: int | None,
) -> None:
    member = await member_with(session, rules, now, 250)
    item = await reward(session, rules, cost=100, stock=stock_before)

    redemption = await redeem(session, rules, member.id, item.id, now)

    assert await balance(session, member.id) == 150
    assert await stock(session, item.id) == stock_after
    assert item.stock == stock_after  # the caller's object is refreshed too
    assert await entries(session, member.id, EntryKind.REDEEM) == [-100]
    row = await session.get(Redemption, redemption.id, populate_existing=True)
    assert (row.member_id, row.reward_id, row.points, row.status) == (
        member.id,
        item.id,
        100,
        RedemptionStatus.RESERVED,
    )
    assert (row.created_at, row.expires_at, row.closed_at, row.confirmed_by) == (
        now,
        now + VALID,
        None,
        None,
    )
    assert (
        await session.scalar(select(LedgerEntry.delta).where(LedgerEntry.id == row.entry_id))
        == -100
    )
    await assert_books_balance(session, member.id)


async def test_redeem_issues_distinct_codes_from_the_alphabet(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 2_000)
    item = await reward(session, rules, cost=10, stock=None)
    codes = [(await redeem(session, rules, member.id, item.id, now)).code for _ in range(50)]
    assert all(len(code) == redemptions.CODE_LENGTH == 8 for code in codes)
    assert all(set(code) <= set(ALPHABET) for code in codes)
    assert len(set(codes)) == len(codes)
    assert await balance(session, member.id) == 2_000 - 500
    await assert_books_balance(session, member.id)


async def test_the_same_request_key_redeems_once(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules, cost=100, stock=5)
    first = await redeem(session, rules, member.id, item.id, now, key="tap-1")
    again = await redeem(session, rules, member.id, item.id, now + SECOND, key="tap-1")
    assert again.id == first.id
    assert again.code == first.code
    assert await balance(session, member.id) == 400
    assert await stock(session, item.id) == 4
    assert await entries(session, member.id, EntryKind.REDEEM) == [-100]
    assert await redemption_count(session) == 1
    await assert_books_balance(session, member.id)


@pytest.mark.parametrize(
    ("points", "cost", "ok"), [(99, 100, False), (100, 100, True), (0, 1, False)]
)
async def test_insufficient_points_change_nothing(
    session: AsyncSession, rules: Rules, now: datetime, points: int, cost: int, ok: bool
) -> None:
    member = await member_with(session, rules, now, points)
    item = await reward(session, rules, cost=cost, stock=3)
    if ok:
        await redeem(session, rules, member.id, item.id, now)
        assert (await balance(session, member.id), await stock(session, item.id)) == (0, 2)
    else:
        with pytest.raises(InsufficientPoints):
            await redeem(session, rules, member.id, item.id, now)
        assert await balance(session, member.id) == points
        assert await stock(session, item.id) == 3  # the stock taken first was put back
        assert await redemption_count(session) == 0
        assert await entries(session, member.id, EntryKind.REDEEM) == []
    await assert_books_balance(session, member.id)


async def test_out_of_stock_leaves_the_balance(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules, cost=100, stock=0)
    with pytest.raises(OutOfStock):
        await redeem(session, rules, member.id, item.id, now)
    assert await balance(session, member.id) == 500
    assert await stock(session, item.id) == 0
    assert await redemption_count(session) == 0
    await assert_books_balance(session, member.id)


async def test_the_last_item_goes_to_one_member(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    first = await member_with(session, rules, now, 100, name="First")
    second = await member_with(session, rules, now, 100, name="Second")
    item = await reward(session, rules, cost=100, stock=1)
    await redeem(session, rules, first.id, item.id, now)
    with pytest.raises(OutOfStock):
        await redeem(session, rules, second.id, item.id, now)
    assert (await balance(session, first.id), await balance(session, second.id)) == (0, 100)
    assert await stock(session, item.id) == 0


async def test_racing_members_get_one_winner(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as session:
        racers = [await member_with(session, rules, now, 100, name=f"R{i}") for i in range(6)]
        item = await reward(session, rules, cost=100, stock=1)

    async def attempt(member_id: int) -> str:
        try:
            async with transaction(sessions) as session:
                await redeem(session, rules, member_id, item.id, now)
        except OutOfStock:
            return "out"
        return "won"

    outcomes = await asyncio.gather(*(attempt(m.id) for m in racers))
    assert sorted(outcomes) == ["out"] * 5 + ["won"]
    async with transaction(sessions) as session:
        assert await stock(session, item.id) == 0
        assert await redemption_count(session) == 1
        balances = sorted([await balance(session, m.id) for m in racers])
        assert balances == [0] + [100] * 5
        for m in racers:
            await assert_books_balance(session, m.id)


@pytest.mark.parametrize(
    ("tier", "fields", "available"),
    [
        ("bronze", {"min_tier": "gold"}, False),
        ("silver", {"min_tier": "gold"}, False),
        ("gold", {"min_tier": "gold"}, True),
        ("platinum", {"min_tier": "gold"}, True),
        ("bronze", {"active": False}, False),
        ("bronze", {"starts_at": SECOND}, False),
        ("bronze", {"starts_at": timedelta(0)}, True),
        ("bronze", {"ends_at": timedelta(0)}, False),
        ("bronze", {"ends_at": -DAY}, False),
        ("bronze", {"ends_at": SECOND}, True),
    ],
)
async def test_unavailable_rewards_are_refused(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    tier: str,
    fields: dict,
    available: bool,
) -> None:
    member = await member_with(session, rules, now, 500)
    member.tier = tier
    await session.flush()
    values = {k: now + v if isinstance(v, timedelta) else v for k, v in fields.items()}
    item = await reward(session, rules, cost=100, stock=5, **values)
    if available:
        await redeem(session, rules, member.id, item.id, now)
        assert (await balance(session, member.id), await stock(session, item.id)) == (400, 4)
    else:
        with pytest.raises(RewardUnavailable):
            await redeem(session, rules, member.id, item.id, now)
        assert (await balance(session, member.id), await stock(session, item.id)) == (500, 5)
        assert await redemption_count(session) == 0
    await assert_books_balance(session, member.id)


async def test_unknown_rewards_and_inactive_members_are_refused(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules)
    with pytest.raises(RewardNotFound):
        await redeem(session, rules, member.id, 999_999, now)
    await members.anonymize(session, member.id)
    with pytest.raises(MemberInactive):
        await redeem(session, rules, member.id, item.id, now)
    assert (await balance(session, member.id), await stock(session, item.id)) == (500, 5)


# --- confirm --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        CODE,
        CODE.lower(),
        "Km34xY79",
        format_redemption_code(CODE),  # KM34-XY79
        format_redemption_code(CODE).lower(),
        to_persian_digits(CODE),
        to_persian_digits(format_redemption_code(CODE).lower()),
        "KM\u0663\u0664XY\u0667\u0669",  # Arabic-Indic digits
        "  km34 xy79 ",
    ],
)
async def test_confirm_accepts_the_code_as_people_type_it(
    session: AsyncSession, rules: Rules, now: datetime, fixed_code: str, typed: str
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules)
    redemption = await redeem(session, rules, member.id, item.id, now)
    assert redemption.code == fixed_code

    confirmed = await redemptions.confirm(session, typed, actor_id=777, now=now + DAY)
    assert confirmed.id == redemption.id
    row = await session.get(Redemption, redemption.id, populate_existing=True)
    assert (row.status, row.confirmed_by, row.closed_at) == (
        RedemptionStatus.CONFIRMED,
        777,
        now + DAY,
    )
    assert await balance(session, member.id) == 400  # the points stay spent
    assert await stock(session, item.id) == 4
    await assert_books_balance(session, member.id)


async def test_confirm_refuses_with_the_exact_reason(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules)
    kept = await redeem(session, rules, member.id, item.id, now)
    dropped = await redeem(session, rules, member.id, item.id, now)

    await redemptions.confirm(session, kept.code, actor_id=1, now=now + DAY)
    with pytest.raises(AlreadyConfirmed) as again:
        await redemptions.confirm(session, kept.code.lower(), actor_id=2, now=now + 2 * DAY)
    assert again.value.details["confirmed_at"] == now + DAY
    row = await session.get(Redemption, kept.id, populate_existing=True)
    assert (row.confirmed_by, row.closed_at) == (1, now + DAY)

    await redemptions.cancel(session, dropped.id, member_id=member.id, now=now + DAY)
    with pytest.raises(CodeCancelled):
        await redemptions.confirm(session, dropped.code, actor_id=1, now=now + 2 * DAY)
    assert await status(session, dropped.id) == RedemptionStatus.CANCELLED

    unknown = next(c for c in ("ACDEFGHJ", "ACDEFGHK") if c not in (kept.code, dropped.code))
    with pytest.raises(CodeNotFound):
        await redemptions.confirm(session, unknown, actor_id=1, now=now)
    with pytest.raises(CodeNotFound):
        await redemptions.confirm(session, "", actor_id=1, now=now)

    assert await balance(session, member.id) == 400  # only the cancelled one came back
    assert await stock(session, item.id) == 4
    await assert_books_balance(session, member.id)


@pytest.mark.parametrize(
    ("after_expiry", "confirmed"),
    [
        (-DAY, True),
        (-SECOND, True),  # 14 days - 1 second
        (timedelta(0), False),  # exactly 14 days
        (SECOND, False),  # 14 days + 1 second
        (30 * DAY, False),
    ],
)
async def test_confirm_at_the_expiry_boundary(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    after_expiry: timedelta,
    confirmed: bool,
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules, cost=100, stock=5)
    redemption = await redeem(session, rules, member.id, item.id, now)
    at = now + VALID + after_expiry

    if confirmed:
        await redemptions.confirm(session, redemption.code, actor_id=9, now=at)
        assert await status(session, redemption.id) == RedemptionStatus.CONFIRMED
        assert (await balance(session, member.id), await stock(session, item.id)) == (400, 4)
    else:
        with pytest.raises(CodeExpired):
            await redemptions.confirm(session, redemption.code, actor_id=9, now=at)
        # A refused confirm changes nothing; the expiry sweep refunds, once.
        assert await status(session, redemption.id) == RedemptionStatus.RESERVED
        assert await redemptions.expire_due(session, now=at) == 1
        row = await session.get(Redemption, redemption.id, populate_existing=True)
        assert (row.status, row.closed_at, row.confirmed_by) == (
            RedemptionStatus.EXPIRED,
            at,
            None,
        )
        assert (await balance(session, member.id), await stock(session, item.id)) == (500, 5)
        assert await entries(session, member.id, EntryKind.REFUND) == [100]
        # Asking again says expired again and refunds nothing more.
        with pytest.raises(CodeExpired):
            await redemptions.confirm(session, redemption.code, actor_id=9, now=at + DAY)
        assert await entries(session, member.id, EntryKind.REFUND) == [100]
        assert (await balance(session, member.id), await stock(session, item.id)) == (500, 5)
    await assert_books_balance(session, member.id)


async def test_an_expired_confirm_changes_nothing_and_the_sweep_refunds(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as session:
        member = await member_with(session, rules, now, 500)
        item = await reward(session, rules, cost=100, stock=5)
        redemption = await redeem(session, rules, member.id, item.id, now)

    with pytest.raises(CodeExpired):
        async with transaction(sessions) as session:
            await redemptions.confirm(session, redemption.code, actor_id=9, now=now + VALID)

    async with transaction(sessions) as session:
        assert await status(session, redemption.id) == RedemptionStatus.RESERVED
        assert await redemptions.expire_due(session, now=now + VALID) == 1
    async with transaction(sessions) as session:
        assert await status(session, redemption.id) == RedemptionStatus.EXPIRED
        assert (await balance(session, member.id), await stock(session, item.id)) == (500, 5)


# --- cancel ---------------------------------------------------------------------------------


async def test_cancel_by_another_member_is_not_found(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    owner = await member_with(session, rules, now, 500, name="Owner")
    other = await member_with(session, rules, now, 500, name="Other")
    item = await reward(session, rules)
    redemption = await redeem(session, rules, owner.id, item.id, now)

    with pytest.raises(CodeNotFound):
        await redemptions.cancel(session, redemption.id, member_id=other.id, now=now)
    with pytest.raises(CodeNotFound):
        await redemptions.cancel(session, 999_999, now=now)
    assert await status(session, redemption.id) == RedemptionStatus.RESERVED
    assert (await balance(session, owner.id), await balance(session, other.id)) == (400, 500)
    assert await stock(session, item.id) == 4


async def test_cancel_puts_points_back_in_their_lots_and_the_item_on_the_shelf(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 60 * DAY)
    later = await give(session, member.id, 100, now - 50 * DAY, now + 60 * DAY)
    sooner = await give(session, member.id, 100, now - 40 * DAY, now + 30 * DAY)
    untouched = await give(session, member.id, 100, now - 30 * DAY, now + 90 * DAY)
    item = await reward(session, rules, cost=150, stock=2)

    redemption = await redeem(session, rules, member.id, item.id, now)
    # Soonest-expiring first: all of `sooner`, then 50 from `later`.
    assert await lots(session, member.id) == [
        (later.id, 100, 50),
        (sooner.id, 100, 0),
        (untouched.id, 100, 100),
    ]
    assert (await balance(session, member.id), await stock(session, item.id)) == (150, 1)

    cancelled = await redemptions.cancel(session, redemption.id, member_id=member.id, now=now + DAY)
    assert cancelled.status == RedemptionStatus.CANCELLED
    row = await session.get(Redemption, redemption.id, populate_existing=True)
    assert (row.status, row.closed_at) == (RedemptionStatus.CANCELLED, now + DAY)
    assert await lots(session, member.id) == [
        (later.id, 100, 100),
        (sooner.id, 100, 100),
        (untouched.id, 100, 100),
    ]
    assert (await balance(session, member.id), await stock(session, item.id)) == (300, 2)
    assert await entries(session, member.id, EntryKind.REFUND) == [150]
    draws = await session.scalar(select(func.count()).select_from(LotDraw))
    await assert_books_balance(session, member.id)

    with pytest.raises(CodeCancelled):
        await redemptions.cancel(session, redemption.id, member_id=member.id, now=now + DAY)
    assert await balance(session, member.id) == 300
    assert await session.scalar(select(func.count()).select_from(LotDraw)) == draws


async def test_cancel_of_unlimited_stock_keeps_it_unlimited(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules, stock=None)
    redemption = await redeem(session, rules, member.id, item.id, now)
    await redemptions.cancel(session, redemption.id, now=now)  # staff cancel: no member_id
    assert await stock(session, item.id) is None
    assert await balance(session, member.id) == 500
    await assert_books_balance(session, member.id)


async def test_a_confirmed_code_cannot_be_cancelled(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules)
    redemption = await redeem(session, rules, member.id, item.id, now)
    await redemptions.confirm(session, redemption.code, actor_id=1, now=now)
    with pytest.raises(AlreadyConfirmed):
        await redemptions.cancel(session, redemption.id, member_id=member.id, now=now)
    assert await status(session, redemption.id) == RedemptionStatus.CONFIRMED
    assert (await balance(session, member.id), await stock(session, item.id)) == (400, 4)


# --- expire_due -----------------------------------------------------------------------------


async def test_expire_due_expires_only_past_due_reserved_codes_once(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 1_000)
    item = await reward(session, rules, cost=100, stock=10)
    long_past = await redeem(session, rules, member.id, item.id, now - 20 * DAY)
    exactly_due = await redeem(session, rules, member.id, item.id, now - VALID)
    almost_due = await redeem(session, rules, member.id, item.id, now - VALID + SECOND)
    confirmed = await redeem(session, rules, member.id, item.id, now - 20 * DAY)
    await redemptions.confirm(session, confirmed.code, actor_id=1, now=now - 19 * DAY)
    cancelled = await redeem(session, rules, member.id, item.id, now - 20 * DAY)
    await redemptions.cancel(session, cancelled.id, member_id=member.id, now=now - 19 * DAY)
    assert (await balance(session, member.id), await stock(session, item.id)) == (600, 6)

    assert await redemptions.expire_due(session, now=now) == 2
    expected = {
        long_past.id: RedemptionStatus.EXPIRED,
        exactly_due.id: RedemptionStatus.EXPIRED,
        almost_due.id: RedemptionStatus.RESERVED,
        confirmed.id: RedemptionStatus.CONFIRMED,
        cancelled.id: RedemptionStatus.CANCELLED,
    }
    assert {rid: await status(session, rid) for rid in expected} == expected
    assert (await balance(session, member.id), await stock(session, item.id)) == (800, 8)
    assert await entries(session, member.id, EntryKind.REFUND) == [100, 100, 100]
    await assert_books_balance(session, member.id)

    assert await redemptions.expire_due(session, now=now) == 0
    assert (await balance(session, member.id), await stock(session, item.id)) == (800, 8)

    # Much later, the last reserved code expires too; the confirmed one never does.
    assert await redemptions.expire_due(session, now=now + 365 * DAY) == 1
    expected[almost_due.id] = RedemptionStatus.EXPIRED
    assert {rid: await status(session, rid) for rid in expected} == expected
    assert (await balance(session, member.id), await stock(session, item.id)) == (900, 9)
    assert await redemptions.expire_due(session, now=now + 365 * DAY) == 0
    assert await entries(session, member.id, EntryKind.REFUND) == [100] * 4
    await assert_books_balance(session, member.id)

    with pytest.raises(CodeExpired):
        await redemptions.confirm(session, long_past.code, actor_id=1, now=now)
    assert await balance(session, member.id) == 900


async def test_expire_due_respects_the_limit(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 1_000)
    item = await reward(session, rules, cost=100, stock=None)
    for days in (30, 20, 16):
        await redeem(session, rules, member.id, item.id, now - days * DAY)
    assert await redemptions.expire_due(session, now=now, limit=2) == 2
    assert await redemptions.expire_due(session, now=now, limit=2) == 1
    assert await redemptions.expire_due(session, now=now, limit=2) == 0
    assert await balance(session, member.id) == 1_000
    await assert_books_balance(session, member.id)


async def test_a_colliding_code_is_drawn_again(
    session: AsyncSession, rules: Rules, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await member_with(session, rules, now, 500)
    item = await reward(session, rules, stock=None)
    draws = iter(["ACDEFGHJ", "ACDEFGHJ", "KMNPQRTU"])
    monkeypatch.setattr(redemptions, "new_code", lambda length: next(draws))
    first = await redeem(session, rules, member.id, item.id, now)
    second = await redeem(session, rules, member.id, item.id, now)
    assert (first.code, second.code) == ("ACDEFGHJ", "KMNPQRTU")
    assert await balance(session, member.id) == 300


async def test_an_erased_members_codes_are_void_and_confirm_says_so(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await member_with(session, rules, now, 500)
    gift = await reward(session, rules, cost=300, stock=2)
    code = await redeem(session, rules, member.id, gift.id, now)

    assert await redemptions.void_for_member(session, member.id, now) == 1

    assert await status(session, code.id) == RedemptionStatus.VOID
    assert (await balance(session, member.id), await stock(session, gift.id)) == (500, 2)
    with pytest.raises(CodeVoid):
        await redemptions.confirm(session, code.code, actor_id=1, now=now)
    with pytest.raises(CodeVoid):
        await redemptions.cancel(session, code.id, now=now)
    await assert_books_balance(session, member.id)


async def test_a_request_key_of_another_member_is_never_replayed_to_them(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    first = await member_with(session, rules, now, 500)
    second = await member_with(session, rules, now, 500, name="Reza")
    gift = await reward(session, rules)
    await redeem(session, rules, first.id, gift.id, now, key="same")

    with pytest.raises(IdempotencyConflict):
        await redeem(session, rules, second.id, gift.id, now, key="same")
    assert await balance(session, second.id) == 500
