"""Staff awards and deductions: points moved by hand, always with a reason and a limit.

Each adjustment is an ``adjust`` ledger entry keyed by the request that asked for it, so a
repeated message moves points once. An award opens a lot that expires like any other points.

A staff member who is not an administrator may move at most ``adjust.staff_daily_limit`` points a
club day (midnight to midnight in the club's time zone), awards and deductions added up, so many
small awards cannot add up to what one large one may not. The caller says who is limited
(``limited=True``: :mod:`core.actions.adjustments` for plain staff); administrators, scripts and
imports are not. The actor's entries of the day
are summed under a lock on the actor, so two of their commands at once cannot both slip under it.
"""

from __future__ import annotations

from datetime import datetime, time, tzinfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.clock import after_days
from core.errors import InvalidInput, MemberInactive, StaffDailyLimit
from core.models import EntryKind, LedgerEntry, MemberStatus, utcnow
from core.rules import Rules

MAX_REASON = 200
#: Advisory lock keys of the daily limit (PostgreSQL): this prefix, then the actor's id.
_ACTOR_LOCK = 0x0AD1 << 48
_ACTOR_BITS = (1 << 48) - 1


def clean_reason(reason: str) -> str:
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise InvalidInput("empty_reason", reason)
    if len(cleaned) > MAX_REASON:
        raise InvalidInput("too_long", cleaned)
    return cleaned


def check_points(rules: Rules, points: int) -> None:
    if points <= 0:
        raise InvalidInput("not_positive", str(points))
    if points > rules.adjust.max_points:
        raise InvalidInput("too_large", str(points))


async def adjust(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    delta: int,
    *,
    reason: str,
    actor_id: int,
    key: str,
    limited: bool = False,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Award (``delta > 0``) or deduct (``delta < 0``) points by hand.

    ``limited``: the actor is plain staff, held to the daily limit of the club day in ``tz``.

    :raises StaffDailyLimit: with ``limit`` and what is ``left`` today, before anything moved.
    """
    now = now or utcnow()
    check_points(rules, abs(delta))
    reason = clean_reason(reason)
    if limited:
        await _check_daily_limit(session, rules, actor_id, abs(delta), tz, now)
    member = await ledger.lock_member(session, member_id)
    if member.status == MemberStatus.ERASED:
        raise MemberInactive(member_id=member_id)
    if delta > 0:
        return await ledger.credit(
            session, member_id, delta, EntryKind.ADJUST, key,
            expires_at=after_days(now, rules.expiry.days), reason=reason, actor_id=actor_id,
            now=now,
        )  # fmt: skip
    return await ledger.debit(
        session, member_id, -delta, EntryKind.ADJUST, key, reason=reason, actor_id=actor_id, now=now
    )


async def moved_today(
    session: AsyncSession, actor_id: int, tz: tzinfo | None, now: datetime | None = None
) -> int:
    """Points ``actor_id`` awarded plus deducted since the club day began (in ``tz``)."""
    now = now or utcnow()
    local = now.astimezone(tz) if tz is not None else now
    day_start = datetime.combine(local.date(), time(), tzinfo=local.tzinfo)
    total = await session.scalar(
        select(func.coalesce(func.sum(func.abs(LedgerEntry.delta)), 0)).where(
            LedgerEntry.kind == EntryKind.ADJUST,
            LedgerEntry.actor_id == actor_id,
            LedgerEntry.created_at >= day_start,
        )
    )
    return int(total or 0)


async def _check_daily_limit(
    session: AsyncSession,
    rules: Rules,
    actor_id: int,
    points: int,
    tz: tzinfo | None,
    now: datetime,
) -> None:
    await _lock_actor(session, actor_id)
    limit = rules.adjust.staff_daily_limit
    used = await moved_today(session, actor_id, tz, now)
    if used + points > limit:
        raise StaffDailyLimit(limit=limit, used=used, left=max(0, limit - used))


async def _lock_actor(session: AsyncSession, actor_id: int) -> None:
    """Serialize one actor's limited adjustments until commit. SQLite's ``BEGIN IMMEDIATE``
    already holds the only write lock; PostgreSQL takes a transaction advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        key = _ACTOR_LOCK | (actor_id & _ACTOR_BITS)
        await session.execute(select(func.pg_advisory_xact_lock(key)))
