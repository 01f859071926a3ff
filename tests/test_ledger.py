"""The ledger's own rules: idempotency keys, oldest lots first, expiry by lot, exact refunds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import expiry, ledger
from core.clock import after_days
from core.errors import IdempotencyConflict, InsufficientPoints, InvalidInput, MemberNotFound
from core.models import EntryKind, LedgerEntry, PointsLot
from core.rules import Rules
from tests.helpers import assert_books_balance, new_member


async def _lots(session: AsyncSession, member_id: int) -> list[int]:
    rows = await session.scalars(
        select(PointsLot.remaining).where(PointsLot.member_id == member_id).order_by(PointsLot.id)
    )
    return list(rows)


async def _give(session: AsyncSession, member_id: int, points: int, key: str, expires: datetime):
    return await ledger.credit(session, member_id, points, EntryKind.BONUS, key, expires_at=expires)


async def test_the_same_key_moves_points_once(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    first = await _give(session, member.id, 100, "k", after_days(now, 365))
    again = await _give(session, member.id, 100, "k", after_days(now, 365))

    assert again.id == first.id
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    await assert_books_balance(session, member.id)
    with pytest.raises(IdempotencyConflict):
        await _give(session, member.id, 999, "k", after_days(now, 365))


async def test_spends_draw_the_soonest_expiring_lots_first(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await _give(session, member.id, 100, "late", after_days(now, 300))
    await _give(session, member.id, 100, "soon", after_days(now, 10))
    await _give(session, member.id, 100, "middle", after_days(now, 100))

    await ledger.debit(session, member.id, 150, EntryKind.REDEEM, "spend", now=now)

    assert await _lots(session, member.id) == [100, 0, 50]
    await assert_books_balance(session, member.id)


async def test_refund_puts_points_back_into_the_same_lots(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await _give(session, member.id, 100, "a", after_days(now, 10))
    await _give(session, member.id, 100, "b", after_days(now, 20))
    spend = await ledger.debit(session, member.id, 150, EntryKind.REDEEM, "s", now=now)

    refund = await ledger.refund(session, spend.id, now=now)
    again = await ledger.refund(session, spend.id, now=now)

    assert again.id == refund.id
    assert await _lots(session, member.id) == [100, 100]
    await assert_books_balance(session, member.id)


async def test_overdraw_is_refused_and_changes_nothing(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await _give(session, member.id, 100, "a", after_days(now, 10))

    with pytest.raises(InsufficientPoints):
        await ledger.debit(session, member.id, 101, EntryKind.REDEEM, "s", now=now)

    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert await _lots(session, member.id) == [100]


@pytest.mark.parametrize("points", [0, -1, 10**13, 1.5, True])
async def test_bad_point_amounts_are_typed_errors(
    session: AsyncSession, rules: Rules, now: datetime, points: object
) -> None:
    member = await new_member(session, rules, now)
    with pytest.raises(InvalidInput):
        await _give(session, member.id, points, "bad", after_days(now, 1))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await ledger.debit(session, member.id, points, EntryKind.ADJUST, "bad")  # type: ignore[arg-type]
    assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_unknown_member(session: AsyncSession, now: datetime) -> None:
    with pytest.raises(MemberNotFound):
        await _give(session, 123_456, 10, "x", after_days(now, 1))


@pytest.mark.parametrize(
    ("age", "expired"),
    [(timedelta(days=364), 0), (timedelta(days=365) - timedelta(seconds=1), 0),
     (timedelta(days=365), 40), (timedelta(days=564), 40), (timedelta(days=565), 100)],
)  # fmt: skip
async def test_expiry_is_by_lot_at_day_365(
    session: AsyncSession, rules: Rules, now: datetime, age: timedelta, expired: int
) -> None:
    member = await new_member(session, rules, now)
    await _give(session, member.id, 40, "old", after_days(now, 365))
    await _give(session, member.id, 60, "young", after_days(now + timedelta(days=200), 365))

    assert await expiry.expire_due(session, now + age) == expired
    assert await expiry.expire_due(session, now + age) == 0  # a second sweep finds nothing
    await session.refresh(member)
    assert member.balance == 100 - expired
    await assert_books_balance(session, member.id)


async def test_reversal_is_clamped_at_zero(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    credit = await _give(session, member.id, 100, "c", after_days(now, 30))
    await ledger.debit(session, member.id, 70, EntryKind.REDEEM, "s", now=now)

    outcome = await ledger.reverse(session, credit.id, now=now)
    again = await ledger.reverse(session, credit.id, now=now)

    assert (outcome.recovered, outcome.unrecovered) == (30, 70)
    assert (again.recovered, again.unrecovered) == (30, 70)
    await assert_books_balance(session, member.id)
