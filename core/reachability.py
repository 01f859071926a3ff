"""Whether the bot can reach a member, decided here once: in Python, in SQL, and as it changes.

A member the bot can reach is active and has a Telegram chat. Telegram's 403 (they blocked the
bot) makes them ``blocked`` (:func:`mark_blocked`), whoever sent the message that met it, and
anything they send us makes them active again (:func:`came_back`). Unsolicited messages (the
outbox's campaigns, sweeps and notices) go only to reachable members; a direct notice answering
something a member just did is still tried when they are blocked (:func:`has_chat`), because
they may have come back without saying so, and a refusal costs one call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.club import Club
from core.db import transaction
from core.models import Member, MemberStatus


def has_chat(member: Member) -> bool:
    """A chat the bot may write to at all: a Telegram id, and not forgotten."""
    return member.telegram_id is not None and member.status != MemberStatus.ERASED


def reachable(member: Member) -> bool:
    """Active with a Telegram chat: the same test as :func:`reachable_sql`."""
    return member.telegram_id is not None and member.status == MemberStatus.ACTIVE


def reachable_sql() -> ColumnElement[bool]:
    """SQL over ``members``: :func:`reachable`."""
    return and_(Member.status == MemberStatus.ACTIVE, Member.telegram_id.is_not(None))


def blocked_sql(member_id: Any) -> ColumnElement[bool]:
    """SQL: the member ``member_id`` (a column, correlated) blocked the bot."""
    return exists().where(Member.id == member_id, Member.status == MemberStatus.BLOCKED)


async def mark_blocked(session: AsyncSession, member_id: int) -> None:
    """Telegram answered 403: an active member is ``blocked`` until they write to us again."""
    await session.execute(
        update(Member)
        .where(Member.id == member_id, Member.status == MemberStatus.ACTIVE)
        .values(status=MemberStatus.BLOCKED)
        .execution_options(synchronize_session=False)
    )


async def refused(club: Club, member_id: int) -> None:
    """A direct notice met Telegram's 403 after its action committed: :func:`mark_blocked`, in a
    transaction of its own, so the staff action it followed stands whatever happens here."""
    async with transaction(club.sessions) as session:
        await mark_blocked(session, member_id)


def came_back(member: Member) -> None:
    """The member wrote to us: whatever they blocked before, they can be reached again."""
    if member.status == MemberStatus.BLOCKED:
        member.status = MemberStatus.ACTIVE
