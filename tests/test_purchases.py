"""Purchases: points by the rules, once per reference, and refunds that never go below zero."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import expiry, ledger, members, purchases
from core.clock import after_days
from core.errors import (
    AlreadyRefunded,
    DuplicateReference,
    InvalidInput,
    MemberInactive,
    MemberNotFound,
    PurchaseNotFound,
    ReferenceConflict,
)
from core.models import EntryKind, LedgerEntry, Member, MemberStatus, Purchase, PurchaseStatus
from core.rules import Rules
from tests.helpers import assert_books_balance, new_member


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("amount", "points"),
    [(999, 0), (1_000, 1), (1_999, 1), (99_999, 99), (100_000, 100), (999_999, 999)],
)
async def test_points_follow_the_earn_rate(
    session: AsyncSession, rules: Rules, now: datetime, amount: int, points: int
) -> None:
    member = await new_member(session, rules, now)

    result = await purchases.record(session, rules, member.id, amount, reference="A1", now=now)

    assert (result.points, result.balance) == (points, points)
    assert result.purchase.points == points
    entries = await session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EARN))
    assert entries == (1 if points else 0)
    await assert_books_balance(session, member.id)


async def test_points_expire_365_days_after_the_purchase(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await purchases.record(session, rules, member.id, 50_000, now=now)

    assert await expiry.expire_due(session, after_days(now, 364)) == 0
    assert await expiry.expire_due(session, after_days(now, 365)) == 50
    await session.refresh(member)
    assert member.balance == 0
    await assert_books_balance(session, member.id)


async def test_a_generated_reference_is_unique(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    first = await purchases.record(session, rules, member.id, 10_000, now=now)
    second = await purchases.record(session, rules, member.id, 10_000, now=now)

    assert first.purchase.reference != second.purchase.reference
    assert second.balance == 20


async def test_a_replayed_reference_awards_nothing(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await purchases.record(session, rules, member.id, 300_000, reference="INV-1", now=now)

    with pytest.raises(DuplicateReference):
        await purchases.record(session, rules, member.id, 300_000, reference=" INV-1 ", now=now)

    assert await _count(session, Purchase) == 1
    await session.refresh(member)
    assert member.balance == 300


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (0, "not_positive"),
        (-5_000, "not_positive"),
        (10_000_000_001, "too_large"),
        (10**40, "too_large"),
        ("5000", "not_a_number"),
        (12.5, "not_a_number"),
        (True, "not_a_number"),
    ],
)
async def test_bad_amounts_change_nothing(
    session: AsyncSession, rules: Rules, now: datetime, amount: object, reason: str
) -> None:
    member = await new_member(session, rules, now)

    with pytest.raises(InvalidInput) as caught:
        await purchases.record(session, rules, member.id, amount, now=now)  # type: ignore[arg-type]

    assert caught.value.reason == reason
    assert await _count(session, Purchase) == 0
    assert await _count(session, LedgerEntry) == 0


@pytest.mark.parametrize("reference", ["", "   ", "x" * 65, "bad\nline"])
async def test_bad_references_are_refused(
    session: AsyncSession, rules: Rules, now: datetime, reference: str
) -> None:
    member = await new_member(session, rules, now)
    with pytest.raises(InvalidInput):
        await purchases.record(
            session, rules, member.id, 10_000, reference=reference or " ", now=now
        )
    assert await _count(session, Purchase) == 0


async def test_unknown_and_erased_members_are_refused(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    with pytest.raises(MemberNotFound):
        await purchases.record(session, rules, 9_999, 10_000, now=now)
    member = await new_member(session, rules, now)
    await members.anonymize(session, member.id)
    with pytest.raises(MemberInactive):
        await purchases.record(session, rules, member.id, 10_000, now=now)
    assert await _count(session, Purchase) == 0


async def test_refund_reverses_exactly_the_points_earned(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await purchases.record(session, rules, member.id, 200_000, reference="KEEP", now=now)
    await purchases.record(session, rules, member.id, 300_000, reference="BACK", now=now)

    result = await purchases.refund(session, "BACK", actor_id=77, now=now)

    assert (result.reversed, result.unrecovered, result.balance) == (300, 0, 200)
    assert result.purchase.status == PurchaseStatus.REFUNDED
    reversal = await session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "reversal"))
    assert (reversal.delta, reversal.actor_id) == (-300, 77)
    await assert_books_balance(session, member.id)


async def test_refund_after_spending_stops_at_zero_and_records_the_shortfall(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    """A loyalty balance is not a debt: take back what is left and record the rest."""
    member = await new_member(session, rules, now)
    await purchases.record(session, rules, member.id, 500_000, reference="R", now=now)
    await ledger.debit(session, member.id, 420, EntryKind.REDEEM, "spent", now=now)

    result = await purchases.refund(session, "R", now=now)

    assert (result.reversed, result.unrecovered, result.balance) == (80, 420, 0)
    stored = await session.scalar(select(Purchase).where(Purchase.reference == "R"))
    assert (stored.points_reversed, stored.points_unrecovered) == (80, 420)
    await assert_books_balance(session, member.id)


async def test_refund_takes_the_purchase_own_lot_first(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    """Older points keep their earlier expiry; the refunded purchase's own lot is emptied."""
    member = await new_member(session, rules, now)
    await ledger.credit(
        session, member.id, 100, EntryKind.BONUS, "old", expires_at=after_days(now, 30), now=now
    )
    await purchases.record(session, rules, member.id, 100_000, reference="NEW", now=now)

    await purchases.refund(session, "NEW", now=now)

    assert await ledger.expiring_points(session, member.id, now, after_days(now, 31) - now) == [
        (after_days(now, 30), 100)
    ]
    await assert_books_balance(session, member.id)


async def test_refund_twice_or_unknown(session: AsyncSession, rules: Rules, now: datetime) -> None:
    member = await new_member(session, rules, now)
    await purchases.record(session, rules, member.id, 100_000, reference="R2", now=now)
    await purchases.refund(session, "R2", now=now)

    with pytest.raises(AlreadyRefunded):
        await purchases.refund(session, "R2", now=now)
    with pytest.raises(PurchaseNotFound):
        await purchases.refund(session, "nope", now=now)
    await session.refresh(member)
    assert member.balance == 0
    assert await _count(session, Member) == 1


# --- references, reachability, shortfalls --------------------------------------------------


async def test_a_retry_names_the_purchase_and_a_conflict_is_refused(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    other = await new_member(session, rules, now, name="Ali")
    first = await purchases.record(session, rules, member.id, 250_000, reference="1001", now=now)

    with pytest.raises(DuplicateReference) as retry:
        await purchases.record(session, rules, member.id, 250_000, reference="1001", now=now)
    assert retry.value.details == {
        "reference": "1001",
        "purchase_id": first.purchase.id,
        "member_id": member.id,
        "amount": 250_000,
        "points": 250,
        "status": "completed",
    }
    for member_id, amount in ((other.id, 250_000), (member.id, 260_000)):
        with pytest.raises(ReferenceConflict) as conflict:
            await purchases.record(session, rules, member_id, amount, reference="1001", now=now)
        assert conflict.value.details == {"reference": "1001"}
    assert await _count(session, Purchase) == 1


async def test_a_member_who_blocked_the_bot_still_earns(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    member.status = MemberStatus.BLOCKED

    result = await purchases.record(session, rules, member.id, 100_000, now=now)

    assert (result.points, result.balance) == (100, 100)
    await assert_books_balance(session, member.id)


async def test_a_shortfall_is_owed_until_points_come_back_to_its_lot(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    bought = await purchases.record(session, rules, member.id, 300_000, reference="R", now=now)
    spent = await ledger.debit(session, member.id, 200, EntryKind.REDEEM, "spend", now=now)

    refund = await purchases.refund(session, "R", now=now)
    assert (refund.reversed, refund.unrecovered, refund.balance) == (100, 200, 0)
    assert await purchases.owed(session, bought.purchase) == 200

    await ledger.credit(
        session, member.id, 70, EntryKind.BONUS, "gift", expires_at=after_days(now, 30), now=now
    )
    assert await purchases.owed(session, bought.purchase) == 200  # other points are not taken
    await ledger.refund(session, spent.id, now=now)

    assert await purchases.owed(session, bought.purchase) == 0
    assert bought.purchase.points_unrecovered == 200  # the shortfall as it was at the refund
    assert (await ledger.lock_member(session, member.id)).balance == 70
    await assert_books_balance(session, member.id)


async def test_pending_points_wait_and_a_refund_in_the_window_owes_nothing(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules(earn={"pending_days": 14})
    member = await new_member(session, rules, now)
    kept = await purchases.record(session, rules, member.id, 300_000, reference="K", now=now)
    await purchases.record(session, rules, member.id, 200_000, reference="B", now=now)

    assert (kept.pending, kept.balance) == (True, 0)
    assert await purchases.pending(session, member.id) == purchases.PendingPoints(
        500, [(after_days(now, 14), 300), (after_days(now, 14), 200)]
    )
    refund = await purchases.refund(session, "B", now=now)
    assert (refund.was_pending, refund.reversed, refund.unrecovered) == (True, 0, 0)
    assert await purchases.activate_due(session, rules, after_days(now, 13)) == []

    [activated] = await purchases.activate_due(session, rules, after_days(now, 14))
    assert await purchases.activate_due(session, rules, after_days(now, 15)) == []

    assert (activated.purchase.reference, activated.balance) == ("K", 300)
    assert await purchases.pending(session, member.id) == purchases.PendingPoints(0, [])
    assert await _count(session, LedgerEntry) == 1
    await assert_books_balance(session, member.id)
