"""The staff use cases that move points (core.actions.purchases, core.actions.adjustments), driven
as the chat drives them: one call per request, each with its own transaction and audit entry, and
a request delivered twice moving nothing the second time."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core import confirmations
from core.actions import adjustments, purchases
from core.audit import Actor
from core.club import Club
from core.errors import (
    AlreadyRefunded,
    DuplicateReference,
    IdempotencyConflict,
    MemberNotFound,
    StaffDailyLimit,
)
from core.models import AuditEntry, LedgerEntry, Purchase, utcnow
from core.rules import Rules
from tests.helpers import new_member, reload_member

CASHIER = Actor(501, "Cashier")
OWNER = Actor(502, "Owner")
WELCOME = Rules().referral.welcome_bonus


async def _member(club: Club, **fields: object) -> int:
    async with club.sessions() as s, s.begin():
        return (await new_member(s, club.rules, utcnow(), **fields)).id  # type: ignore[arg-type]


async def _audit(club: Club, action: str) -> list[AuditEntry]:
    async with club.sessions() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows)


async def _count(club: Club, model: type) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_purchase_is_recorded_with_its_audit_entry_and_a_retry_records_nothing(
    club: Club,
) -> None:
    member_id = await _member(club)

    outcome = await purchases.purchase(
        club, CASHIER, f"#{member_id}", 250_000, reference=None, key="tg:-1:10"
    )

    assert isinstance(outcome, purchases.Recorded)
    assert outcome.member.id == member_id
    assert outcome.result.points == 250 and outcome.result.purchase.reference == "tg:-1:10"
    [entry] = await _audit(club, "purchase")
    assert (entry.actor_id, entry.actor_name, entry.member_id) == (501, "Cashier", member_id)
    assert entry.before == {"balance": 0, "tier": outcome.result.tier_before}
    assert entry.after["balance"] == 250 and entry.after["confirmation"] is None

    with pytest.raises(DuplicateReference):
        await purchases.purchase(
            club, CASHIER, f"#{member_id}", 250_000, reference=None, key="tg:-1:10"
        )
    assert (await reload_member(club.sessions, member_id)).balance == 250
    assert len(await _audit(club, "purchase")) == 1


async def test_a_large_purchase_is_held_then_recorded_once_by_the_first_press(club: Club) -> None:
    member_id = await _member(club)
    amount = club.rules.purchase.confirm_above + 1_000

    held = await purchases.purchase(
        club, CASHIER, f"#{member_id}", amount, reference="R-1", key="tg:-1:11"
    )

    assert isinstance(held, purchases.Held)
    assert held.reasons == (confirmations.LARGE,)
    assert await _count(club, Purchase) == 0
    decided = await purchases.decide_purchase(club, OWNER, held.request.id, confirm=True)
    assert decided is not None and decided.result is not None
    assert decided.result.purchase.reference == "R-1" and decided.member.id == member_id
    assert await purchases.decide_purchase(club, OWNER, held.request.id, confirm=True) is None
    assert await purchases.decide_purchase(club, OWNER, held.request.id, confirm=False) is None
    assert await _count(club, Purchase) == 1
    [entry] = await _audit(club, "purchase")
    assert entry.actor_id == OWNER.id and entry.after["confirmation"] == held.request.id


async def test_a_purchase_named_by_an_unverified_phone_is_held_and_can_be_cancelled(
    club: Club,
) -> None:
    member_id = await _member(club, phone="09121234567")

    held = await purchases.purchase(
        club, CASHIER, "0912 123 4567", 10_000, reference=None, key="tg:-1:12"
    )

    assert isinstance(held, purchases.Held) and held.reasons == (confirmations.UNVERIFIED,)
    decided = await purchases.decide_purchase(club, OWNER, held.request.id, confirm=False)
    assert decided is not None and decided.result is None and decided.member.id == member_id
    assert await _count(club, Purchase) == 0
    assert await _audit(club, "purchase") == []


async def test_an_unknown_member_changes_nothing(club: Club) -> None:
    with pytest.raises(MemberNotFound):
        await purchases.purchase(club, CASHIER, "#999", 10_000, reference=None, key="k")
    assert await _count(club, Purchase) == await _count(club, AuditEntry) == 0


async def test_a_refund_claws_back_the_referrer_and_is_audited_once(club: Club) -> None:
    referrer_id = await _member(club, name="Referrer")
    code = (await reload_member(club.sessions, referrer_id)).referral_code
    friend_id = await _member(club, referral_code=code)
    await purchases.purchase(club, CASHIER, f"#{friend_id}", 200_000, reference="B-1", key="k1")

    refunded = await purchases.refund(club, CASHIER, "B-1")

    assert refunded.member.id == friend_id
    assert refunded.referrer is not None and refunded.referrer.id == referrer_id
    assert refunded.result.reversed == 200
    [entry] = await _audit(club, "refund")
    assert entry.member_id == friend_id and entry.actor_id == CASHIER.id
    assert entry.after["reference"] == "B-1" and entry.after["reversed"] == 200
    assert entry.before == {"balance": refunded.member.balance + 200}
    with pytest.raises(AlreadyRefunded):
        await purchases.refund(club, CASHIER, "B-1")
    assert len(await _audit(club, "refund")) == 1
    assert (await reload_member(club.sessions, friend_id)).balance == WELCOME


async def test_an_award_is_audited_and_the_same_request_again_moves_nothing(club: Club) -> None:
    member_id = await _member(club)

    first = await adjustments.adjust(
        club, CASHIER, f"#{member_id}", 30, reason="birthday", key="tg:-1:20", admin=False
    )
    again = await adjustments.adjust(
        club, CASHIER, f"#{member_id}", 30, reason="birthday", key="tg:-1:20", admin=False
    )

    assert (first.replayed, again.replayed) == (False, True)
    assert first.member.balance == again.member.balance == 30
    [entry] = await _audit(club, "award")
    assert entry.before == {"balance": 0, "tier": first.member.tier}
    assert entry.after == {"balance": 30, "tier": first.member.tier, "points": 30,
                           "reason": "birthday"}  # fmt: skip
    with pytest.raises(IdempotencyConflict):
        await adjustments.adjust(
            club, CASHIER, f"#{member_id}", -30, reason="birthday", key="tg:-1:20", admin=False
        )
    assert await _count(club, LedgerEntry) == 1


async def test_a_deduction_is_audited_as_one(club: Club) -> None:
    member_id = await _member(club)
    await adjustments.adjust(club, OWNER, f"#{member_id}", 50, reason="gift", key="k0", admin=True)

    deducted = await adjustments.adjust(
        club, CASHIER, f"#{member_id}", -20, reason="mistake", key="k", admin=False
    )

    assert deducted.delta == -20 and deducted.member.balance == 30
    [entry] = await _audit(club, "deduct")
    assert entry.after["points"] == -20


async def test_above_the_staff_limit_only_an_admin_may_adjust(club: Club) -> None:
    member_id = await _member(club)
    limit = club.rules.adjust.staff_limit

    with pytest.raises(adjustments.AdminsOnlyAbove) as refused:
        await adjustments.adjust(
            club, CASHIER, "#999", limit + 1, reason="big", key="k1", admin=False
        )
    assert refused.value.details == {"limit": limit}  # refused before the member was looked up
    adjusted = await adjustments.adjust(
        club, OWNER, f"#{member_id}", limit + 1, reason="big", key="k2", admin=True
    )
    assert adjusted.member.balance == limit + 1


async def test_plain_staff_are_held_to_the_daily_limit(club: Club) -> None:
    member_id = await _member(club)
    limit = club.rules.adjust.staff_daily_limit
    await adjustments.adjust(
        club, CASHIER, f"#{member_id}", limit, reason="a", key="k1", admin=False
    )

    with pytest.raises(StaffDailyLimit):
        await adjustments.adjust(
            club, CASHIER, f"#{member_id}", 1, reason="b", key="k2", admin=False
        )
    assert len(await _audit(club, "award")) == 1
    await adjustments.adjust(club, OWNER, f"#{member_id}", 1, reason="c", key="k3", admin=True)
