"""Staff awards and deductions by hand, audited, each request moving points once.

The request's ``key`` (the message that asked) is the ledger entry's idempotency key: the same
request delivered again finds its entry and changes nothing, and is answered as it was the first
time (``replayed``: the member was told already). The same key with another amount is a conflict,
not a retry.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import adjustments, audit, ledger, members
from core.audit import Actor
from core.club import Club
from core.db import Session
from core.errors import BashgahError, IdempotencyConflict
from core.models import Member


class AdminsOnlyAbove(BashgahError):
    """More points at once than plain staff may move (``adjust.staff_limit``): for admins only.

    The face answers it with its own staff message (``limit``), not as an error of the member's.
    """

    code = "admins_only_above"


@dataclass(frozen=True)
class Adjusted:
    member: Member
    delta: int
    reason: str
    replayed: bool  # the same request again: nothing moved, nobody is told twice


async def adjust(
    club: Club,
    actor: Actor,
    member_query: str,
    delta: int,
    *,
    reason: str,
    key: str,
    admin: bool,
) -> Adjusted:
    """Award (``delta > 0``) or deduct (``delta < 0``) points, audited as ``award`` or ``deduct``.

    ``admin``: the actor is an administrator, free of the one-command ``adjust.staff_limit`` and
    of the daily limit that hold plain staff.

    :raises AdminsOnlyAbove: with ``limit``, before anything is read or moved.
    """
    rules = club.rules
    if abs(delta) > rules.adjust.staff_limit and not admin:
        raise AdminsOnlyAbove(limit=rules.adjust.staff_limit)

    async def unit(session: Session) -> Adjusted:
        member = await members.find(session, member_query)
        before = _snapshot(member)
        earlier = await ledger.by_key(session, key)
        if earlier is not None:
            if earlier.delta != delta:
                raise IdempotencyConflict()
            return Adjusted(member, delta, reason, replayed=True)
        await adjustments.adjust(
            session, rules, member.id, delta, reason=reason, actor_id=actor.id, key=key,
            limited=not admin, tz=club.settings.tz,
        )  # fmt: skip
        await audit.record(
            session, actor, action="award" if delta > 0 else "deduct", member_id=member.id,
            before=before, after={**_snapshot(member), "points": delta, "reason": reason},
        )  # fmt: skip
        return Adjusted(member, delta, reason, replayed=False)

    return await club.write(unit)


def _snapshot(member: Member) -> dict[str, object]:
    return {"balance": member.balance, "tier": member.tier}
