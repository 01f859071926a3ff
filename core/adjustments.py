"""Staff awards and deductions: points moved by hand, always with a reason and a limit.

Each adjustment is an ``adjust`` ledger entry keyed by the request that asked for it, so a
repeated message moves points once. An award opens a lot that expires like any other points.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.clock import after_days
from core.errors import InvalidInput, MemberInactive
from core.models import EntryKind, LedgerEntry, MemberStatus, utcnow
from core.rules import Rules

MAX_REASON = 200


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
    now: datetime | None = None,
) -> LedgerEntry:
    """Award (``delta > 0``) or deduct (``delta < 0``) points by hand."""
    now = now or utcnow()
    check_points(rules, abs(delta))
    reason = clean_reason(reason)
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
