"""Purchases: points earned by the rules, exactly once per external reference.

The reference (a receipt or order number) is unique per branch (each till numbers its own
receipts): recording the same purchase twice in a branch,
by a retry, a double tap or two cashiers at once, awards nothing the second time, and the same
reference for another member or amount is refused, not taken for a retry.

With a return window (rule ``earn.pending_days``) a purchase's points wait: the purchase is
recorded ``pending`` with the moment they become usable, and :func:`activate_due` (a sweep step)
credits them then. A refund inside the window cancels them before they ever reach the balance.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import branches, ledger, referrals, surveys, tiers
from core.clock import after_days
from core.db import insert_once
from core.digits import to_latin_digits
from core.errors import (
    AlreadyRefunded,
    DuplicateReference,
    InvalidInput,
    MemberInactive,
    PurchaseNotFound,
    ReferenceConflict,
)
from core.models import (
    Branch,
    EntryKind,
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    utcnow,
)
from core.referrals import Clawback, ReferrerReward
from core.rules import Rules

MAX_REFERENCE_LENGTH = 64
# Blocking the bot (403) only means "don't message": such a member still earns.
EARNING = frozenset({MemberStatus.ACTIVE, MemberStatus.BLOCKED})


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    points: int
    balance: int
    tier_before: str
    tier_after: str
    referrer_reward: ReferrerReward | None
    balance_before: int  # read under the member's lock, for the audit entry's "before"

    @property
    def pending(self) -> bool:
        """The points wait for the return window; ``purchase.available_at`` says until when."""
        return self.purchase.status == PurchaseStatus.PENDING


def clean_reference(reference: str) -> str:
    cleaned = to_latin_digits(reference.strip())
    if not cleaned:
        raise InvalidInput("empty", reference)
    if len(cleaned) > MAX_REFERENCE_LENGTH or not cleaned.isprintable():
        raise InvalidInput("bad_reference", cleaned)
    return cleaned


def check_amount(rules: Rules, amount: int) -> None:
    """A purchase amount in Toman: positive and within ``earn.max_purchase_amount``."""
    if amount <= 0:
        raise InvalidInput("not_positive", str(amount))
    if amount > rules.earn.max_purchase_amount:
        raise InvalidInput("too_large", str(amount))


async def record(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    amount: int,
    *,
    reference: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
    branch_id: int | None = None,
) -> PurchaseResult:
    """Record a purchase sold in branch ``branch_id`` (None: ``main``) and award its points;
    upgrade the tier and thank a referrer if due.

    With a return window the points, the tier and the referrer wait for :func:`activate_due`.
    A reference already used is refused before anything moves: :class:`DuplicateReference` for a
    retry (same member and amount), :class:`ReferenceConflict` for anything else.
    """
    now = now or utcnow()
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput("not_a_number", repr(amount))
    check_amount(rules, amount)
    reference = clean_reference(reference) if reference else f"auto-{secrets.token_hex(8)}"
    branch_id = branch_id or await branches.id_of(session, None)
    member = await ledger.lock_member(session, member_id)
    if member.status not in EARNING:
        raise MemberInactive(member_id=member_id)

    tier_before, balance_before = member.tier, member.balance
    points = rules.purchase_points(amount, tier_before)
    pending_days = rules.earn.pending_days
    purchase = await insert_once(
        session,
        Purchase(
            member_id=member_id,
            branch_id=branch_id,
            amount=amount,
            currency=rules.currency,
            reference=reference,
            points=points,
            actor_id=actor_id,
            created_at=now,
            status=PurchaseStatus.PENDING if pending_days else PurchaseStatus.COMPLETED,
            available_at=after_days(now, pending_days) if pending_days else None,
        ),
    )
    if purchase is None:  # the reference is taken: a retry, or another purchase's
        await _refuse_taken(session, branch_id, reference, member_id, amount)
        raise RuntimeError(f"reference {reference!r} taken by no purchase")
    reward = None
    if not pending_days:
        reward = await _complete(session, rules, member, purchase, now)
    await surveys.after_purchase(session, rules, purchase, now)
    return PurchaseResult(
        purchase, points, member.balance, tier_before, member.tier, reward, balance_before
    )


async def _refuse_taken(
    session: AsyncSession, branch_id: int, reference: str, member_id: int, amount: int
) -> None:
    """Refuse a reference the branch used already: a retry of the same purchase, or a conflict."""
    earlier = await _by_reference(session, branch_id, reference)
    if earlier is None:
        return
    if (earlier.member_id, earlier.amount) != (member_id, amount):
        raise ReferenceConflict(reference=reference)
    raise DuplicateReference(
        reference=reference,
        purchase_id=earlier.id,
        member_id=earlier.member_id,
        amount=earlier.amount,
        points=earlier.points,
        status=str(earlier.status),
    )


async def _complete(
    session: AsyncSession, rules: Rules, member: Member, purchase: Purchase, now: datetime
) -> ReferrerReward | None:
    """Credit the purchase's points (key ``purchase:<id>``), move the tier, thank the referrer.

    At once for a purchase without a return window, at activation for one with it: either way the
    referrer's bonus follows points that are final, so a refund inside the window never gives it.
    The lot's dates come from the purchase alone, so the same purchase always makes the same lot.
    """
    earned_at = purchase.available_at or purchase.created_at
    purchase.status = PurchaseStatus.COMPLETED
    if purchase.points:
        await ledger.credit(
            session,
            purchase.member_id,
            purchase.points,
            EntryKind.EARN,
            _earn_key(purchase),
            expires_at=after_days(earned_at, rules.expiry.days),
            reason=f"purchase {purchase.reference}",
            actor_id=purchase.actor_id,
            now=earned_at,
        )
    await tiers.upgrade_if_reached(session, rules, member, now)
    return await referrals.reward_referrer(session, rules, purchase, now)


@dataclass(frozen=True)
class Activation:
    """A pending purchase whose points just became usable."""

    purchase: Purchase
    balance: int
    referrer_reward: ReferrerReward | None


async def activate_due(
    session: AsyncSession, rules: Rules, now: datetime | None = None, limit: int = 1000
) -> list[Activation]:
    """Credit the pending purchases whose return window has passed; safe to run twice or at once.

    Each purchase is re-read under its member's lock and skipped unless still pending, and its
    credit has the key a direct purchase uses, so no purchase is credited twice. Erased members'
    purchases are left pending: erased members do not earn.
    """
    now = now or utcnow()
    due = await session.scalars(
        select(Purchase)
        .join(Member, Member.id == Purchase.member_id)
        .where(
            Purchase.status == PurchaseStatus.PENDING,
            Purchase.available_at <= now,
            Member.status != MemberStatus.ERASED,
        )
        .order_by(Purchase.available_at, Purchase.id)
        .limit(limit)
        .with_for_update(of=Purchase, skip_locked=True)
    )
    activated = []
    for purchase in due.all():
        member = await ledger.lock_member(session, purchase.member_id)
        await session.refresh(purchase)
        if purchase.status != PurchaseStatus.PENDING:
            continue
        reward = await _complete(session, rules, member, purchase, now)
        activated.append(Activation(purchase, member.balance, reward))
    await session.flush()
    return activated


@dataclass(frozen=True)
class PendingPoints:
    """Points a member has waiting in return windows: the total, and each (date usable, points)."""

    points: int
    batches: list[tuple[datetime, int]]


def pending_query(member_id: object) -> Select[tuple[datetime, int]]:
    """(available_at, points) of a member's pending purchases, soonest first."""
    return (
        select(Purchase.available_at, Purchase.points)
        .where(
            Purchase.member_id == member_id,
            Purchase.status == PurchaseStatus.PENDING,
            Purchase.points > 0,
        )
        .order_by(Purchase.available_at, Purchase.id)
    )


def pending_from(rows: Iterable[tuple[datetime, int]]) -> PendingPoints:
    batches = [(available_at, int(points)) for available_at, points in rows]
    return PendingPoints(sum(points for _, points in batches), batches)


async def pending(session: AsyncSession, member_id: int) -> PendingPoints:
    """What :class:`PendingPoints` the member has: promised, not yet spendable, not for tiers."""
    return pending_from((await session.execute(pending_query(member_id))).all())


async def pending_total(session: AsyncSession) -> int:
    """Points the club has promised through return windows: tomorrow's liability."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Purchase.points), 0)).where(
            Purchase.status == PurchaseStatus.PENDING
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class RefundResult:
    purchase: Purchase
    reversed: int
    unrecovered: int  # already spent: owed by the purchase's lot, paid off by points coming back
    balance: int
    clawback: Clawback | None  # the referrer's bonus this purchase had earned, taken back
    was_pending: bool = False  # refunded inside the return window: the points never came


async def refund(
    session: AsyncSession,
    reference: str,
    *,
    actor_id: int | None = None,
    now: datetime | None = None,
    branch_id: int | None = None,
) -> RefundResult:
    """Reverse the points of the purchase ``reference`` names in branch ``branch_id`` (None:
    ``main``), and the referrer's bonus it earned.

    If the member already spent some of them, the balance is taken to zero and not below, because
    a loyalty balance is not a debt the club can collect; the shortfall (``points_unrecovered``,
    as it was at the refund) is owed by the purchase's lot and paid off by the first points that
    flow back into it, so a refunded purchase nets nothing whatever follows. Inside the return
    window nothing was credited yet: the points are simply cancelled.
    """
    now = now or utcnow()
    branch_id = branch_id or await branches.id_of(session, None)
    purchase = await _by_reference(session, branch_id, clean_reference(reference))
    if purchase is None:
        raise PurchaseNotFound(reference=reference)
    await ledger.lock_member(session, purchase.member_id)
    await session.refresh(purchase)
    if purchase.status == PurchaseStatus.REFUNDED:
        raise AlreadyRefunded(reference=purchase.reference)
    was_pending = purchase.status == PurchaseStatus.PENDING
    reason = f"refund {purchase.reference}"
    earned = await ledger.by_key(session, _earn_key(purchase))
    outcome = ledger.Reversal(None, 0, 0)
    if earned is not None:
        outcome = await ledger.reverse(
            session, earned.id, reason=reason, actor_id=actor_id, now=now
        )
    clawback = await referrals.claw_back(session, purchase, reason=reason, now=now)
    purchase.status = PurchaseStatus.REFUNDED
    purchase.refunded_at = now
    purchase.points_reversed = outcome.recovered
    purchase.points_unrecovered = outcome.unrecovered
    member = await ledger.lock_member(session, purchase.member_id)
    await session.flush()
    return RefundResult(
        purchase, outcome.recovered, outcome.unrecovered, member.balance, clawback, was_pending
    )


async def owed(session: AsyncSession, purchase: Purchase) -> int:
    """Points a refunded purchase still owes: its shortfall not yet paid off by points that came
    back (``points_unrecovered`` keeps the shortfall as it was at the refund)."""
    earned = await ledger.by_key(session, _earn_key(purchase))
    if earned is None:
        return 0
    return (await ledger.owed(session, [earned.id])).get(earned.id, 0)


async def recent(session: AsyncSession, member_id: int, limit: int = 5) -> list[Purchase]:
    rows = await session.scalars(
        select(Purchase)
        .where(Purchase.member_id == member_id)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(limit)
    )
    return list(rows)


async def page(
    session: AsyncSession, *, branch_id: int | None, after: int | None, limit: int
) -> list[tuple[Purchase, str]]:
    """Up to ``limit`` purchases after id ``after``, oldest first, each with its branch's code;
    of one branch, or of every branch (None). Keyset paging: a page costs the same anywhere."""
    query = (
        select(Purchase, Branch.code)
        .join(Branch, Branch.id == Purchase.branch_id)
        .order_by(Purchase.id)
        .limit(limit)
    )
    if branch_id is not None:
        query = query.where(Purchase.branch_id == branch_id)
    if after is not None:
        query = query.where(Purchase.id > after)
    return [(purchase, code) for purchase, code in (await session.execute(query)).all()]


def _earn_key(purchase: Purchase) -> str:
    return f"purchase:{purchase.id}"


async def _by_reference(session: AsyncSession, branch_id: int, reference: str) -> Purchase | None:
    return await session.scalar(
        select(Purchase).where(Purchase.branch_id == branch_id, Purchase.reference == reference)
    )
