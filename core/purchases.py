"""Purchases: points earned by the rules, exactly once per external reference.

The reference (a receipt or order number) is unique per club: recording the same purchase twice,
by a retry, a double tap or two cashiers at once, awards nothing the second time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, referrals, surveys, tiers
from core.clock import after_days
from core.digits import to_latin_digits
from core.errors import (
    AlreadyRefunded,
    DuplicateReference,
    InvalidInput,
    MemberInactive,
    PurchaseNotFound,
)
from core.models import EntryKind, LedgerEntry, MemberStatus, Purchase, PurchaseStatus, utcnow
from core.referrals import ReferrerReward
from core.rules import Rules

MAX_REFERENCE_LENGTH = 64


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    points: int
    balance: int
    tier_before: str
    tier_after: str
    referrer_reward: ReferrerReward | None


def clean_reference(reference: str) -> str:
    cleaned = to_latin_digits(reference.strip())
    if not cleaned:
        raise InvalidInput("empty", reference)
    if len(cleaned) > MAX_REFERENCE_LENGTH or not cleaned.isprintable():
        raise InvalidInput("bad_reference", cleaned)
    return cleaned


async def record(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    amount: int,
    *,
    reference: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> PurchaseResult:
    """Record a purchase and award its points; upgrade the tier and thank a referrer if due."""
    now = now or utcnow()
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput("not_a_number", repr(amount))
    if amount <= 0:
        raise InvalidInput("not_positive", str(amount))
    if amount > rules.earn.max_purchase_amount:
        raise InvalidInput("too_large", str(amount))
    reference = clean_reference(reference) if reference else f"auto-{secrets.token_hex(8)}"
    member = await ledger.lock_member(session, member_id)
    if member.status != MemberStatus.ACTIVE:
        raise MemberInactive(member_id=member_id)
    if await _by_reference(session, reference) is not None:
        raise DuplicateReference(reference=reference)

    tier_before = member.tier
    points = rules.purchase_points(amount, tier_before)
    purchase = Purchase(
        member_id=member_id,
        amount=amount,
        currency=rules.currency,
        reference=reference,
        points=points,
        actor_id=actor_id,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(purchase)
            await session.flush()
    except IntegrityError:
        raise DuplicateReference(reference=reference) from None
    if points:
        await ledger.credit(
            session,
            member_id,
            points,
            EntryKind.EARN,
            _earn_key(purchase),
            expires_at=after_days(now, rules.expiry.days),
            reason=f"purchase {reference}",
            actor_id=actor_id,
            now=now,
        )
    await tiers.upgrade_if_reached(session, rules, member, now)
    reward = await referrals.reward_referrer(session, rules, purchase, now)
    await surveys.after_purchase(session, rules, purchase, now)
    return PurchaseResult(purchase, points, member.balance, tier_before, member.tier, reward)


@dataclass(frozen=True)
class RefundResult:
    purchase: Purchase
    reversed: int
    unrecovered: int
    balance: int


async def refund(
    session: AsyncSession,
    reference: str,
    *,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> RefundResult:
    """Reverse a purchase's points.

    If the member already spent some of them, the balance is taken to zero and not below; the
    shortfall is kept on the purchase (``points_unrecovered``) for staff to see, because a
    loyalty balance is not a debt the club can collect.
    """
    now = now or utcnow()
    purchase = await _by_reference(session, clean_reference(reference))
    if purchase is None:
        raise PurchaseNotFound(reference=reference)
    await ledger.lock_member(session, purchase.member_id)
    await session.refresh(purchase)
    if purchase.status == PurchaseStatus.REFUNDED:
        raise AlreadyRefunded(reference=purchase.reference)
    earned = await session.scalar(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == _earn_key(purchase))
    )
    recovered = unrecovered = 0
    if earned is not None:
        outcome = await ledger.reverse(
            session, earned.id, reason=f"refund {purchase.reference}", actor_id=actor_id, now=now
        )
        recovered, unrecovered = outcome.recovered, outcome.unrecovered
    purchase.status = PurchaseStatus.REFUNDED
    purchase.refunded_at = now
    purchase.points_reversed = recovered
    purchase.points_unrecovered = unrecovered
    member = await ledger.lock_member(session, purchase.member_id)
    await session.flush()
    return RefundResult(purchase, recovered, unrecovered, member.balance)


async def recent(session: AsyncSession, member_id: int, limit: int = 5) -> list[Purchase]:
    rows = await session.scalars(
        select(Purchase)
        .where(Purchase.member_id == member_id)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(limit)
    )
    return list(rows)


def _earn_key(purchase: Purchase) -> str:
    return f"purchase:{purchase.id}"


async def _by_reference(session: AsyncSession, reference: str) -> Purchase | None:
    return await session.scalar(select(Purchase).where(Purchase.reference == reference))
