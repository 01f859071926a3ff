"""A member's standing, as ``/points`` shows it, in one statement.

Balance and tier (the member row), points that count towards the next tier, and lots expiring
soon: one row per expiring lot (or one row with none), read by :class:`core.reader.Reader`
without a transaction. Points still in a return window are summed in the same row; only a member
who has some pays a second statement for their dates. The rules are the ones
:func:`core.tiers.qualifying_points`, :func:`core.ledger.expiring_points` and
:func:`core.purchases.pending` apply; only the way of reading differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from core.lots import expiring_lot
from core.models import Member, MemberStatus, PointsLot, Purchase, PurchaseStatus
from core.purchases import PendingPoints, pending_from, pending_query
from core.reader import Reader
from core.rules import Rules
from core.tiers import qualifying_cutoff, qualifying_points_query


@dataclass(frozen=True)
class Standing:
    id: int
    name: str | None
    balance: int
    tier: str
    locale: str
    status: MemberStatus
    qualifying: int
    expiring: list[tuple[datetime, int]] = field(
        default_factory=list
    )  # (date, points), soonest first
    pending: PendingPoints = field(default_factory=lambda: PendingPoints(0, []))


@cache
def _statement() -> Select:
    """Built once: constructing a statement costs more than running it."""
    qualifying = qualifying_points_query(Member.id, bindparam("cutoff")).scalar_subquery()
    pending = (
        select(func.coalesce(func.sum(Purchase.points), 0))
        .where(Purchase.member_id == Member.id, Purchase.status == PurchaseStatus.PENDING)
        .scalar_subquery()
    )
    return (
        select(
            Member.id,
            Member.name,
            Member.balance,
            Member.tier,
            Member.locale,
            Member.status,
            qualifying,
            pending,
            PointsLot.expires_at,
            PointsLot.remaining,
        )
        .select_from(Member)
        .outerjoin(PointsLot, expiring_lot(Member.id, bindparam("now"), bindparam("until")))
        .where(Member.telegram_id == bindparam("telegram_id"))
        .order_by(PointsLot.expires_at)
    )


async def read(
    reader: Reader, rules: Rules, telegram_id: int, now: datetime, within: timedelta
) -> Standing | None:
    """The standing of the member with this Telegram id, or ``None`` if there is none."""
    rows = await reader.rows(
        _statement(),
        {
            "telegram_id": telegram_id,
            "cutoff": qualifying_cutoff(rules, now),
            "now": now,
            "until": now + within,
        },
    )
    if not rows:
        return None
    member_id, name, balance, tier, locale, status, qualifying, pending, *_ = rows[0]
    expiring = [(expires_at, left) for *_, expires_at, left in rows if expires_at is not None]
    waiting = PendingPoints(0, [])
    if pending:
        waiting = pending_from(await reader.rows(_pending_statement(), {"member_id": member_id}))
    return Standing(
        member_id,
        name,
        balance,
        tier,
        locale,
        MemberStatus(status),
        int(qualifying),
        expiring,
        waiting,
    )


@cache
def _pending_statement() -> Select:
    return pending_query(bindparam("member_id"))
