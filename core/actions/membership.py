"""Who a member is, and their personal data erased: by an administrator (``/erase``, audited) or
by the member themselves (``/forget``).

:func:`member_of` is how every member's own action finds its member: by the Telegram id of the
actor, never an erased account, and a member who had blocked the bot is reachable again, since
they are talking to us.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, members, reachability
from core.audit import Actor
from core.club import Club
from core.db import Session, transaction
from core.errors import NotJoined
from core.models import Member, MemberStatus


@dataclass(frozen=True)
class Erased:
    """The member's personal data is gone; their number, points and ledger stay."""

    member: Member


async def member_of(session: AsyncSession, actor: Actor) -> Member:
    """The member acting as ``actor`` (their Telegram user id), or :class:`NotJoined`."""
    member = await members.by_telegram_id(session, actor.id)
    if member is None or member.status == MemberStatus.ERASED:
        raise NotJoined()
    reachability.came_back(member)
    return member


async def me(club: Club, actor: Actor) -> Member:
    """The member acting, for a screen that shows who they are (the settings, the profile, the
    card, /forget's question); like every member's action it marks them reachable again."""
    async with transaction(club.sessions) as session:
        return await member_of(session, actor)


async def erase(club: Club, actor: Actor, member_query: str) -> Erased:
    """``/erase``: an administrator erases a member's personal data, audited.

    The audit entry keeps what the books need, never the name or number being erased. Erasing
    again finds nobody (an erased member is not found by number).
    """

    async def unit(session: Session) -> Erased:
        member = await members.find(session, member_query)
        before = {"status": str(member.status), "balance": member.balance}
        await members.anonymize(session, member.id)
        await audit.record(
            session, actor, action="erase", member_id=member.id,
            before=before, after={"status": "erased"},
        )  # fmt: skip
        return Erased(member)

    return await club.write(unit)


async def forget(club: Club, actor: Actor) -> Erased:
    """``/forget``: the member erases their own personal data; pressed again, :class:`NotJoined`."""

    async def unit(session: Session) -> Erased:
        member = await member_of(session, actor)
        await members.anonymize(session, member.id)
        return Erased(member)

    return await club.write(unit)
