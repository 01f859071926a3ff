"""Notices: a message telling someone what happened, as an outbox row the sender delivers later.

A draw's results and what the API did to a member (a purchase, a refund) are told this way: the
row is written once whatever retries it (its ``key`` names the event and whom it tells, so a
replayed draw or request writes nothing twice), and a member the bot cannot reach
(:func:`core.reachability.reachable`) gets no row at all. A notice is not an offer, so it counts
against no member's weekly cap.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox, reachability
from core.club import Club
from core.db import transaction
from core.models import Member

KIND = "notice"


async def write(
    session: AsyncSession,
    chat_id: int,
    key: str,
    text: str,
    *,
    member_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """One notice to ``chat_id``, in the caller's transaction; False if ``key`` was written."""
    row = await outbox.enqueue(
        session, chat_id=chat_id, kind=KIND, dedupe_key=key, text=text, member_id=member_id,
        now=now,
    )  # fmt: skip
    return row is not None


async def write_to(
    session: AsyncSession, member: Member, key: str, text: str, *, now: datetime | None = None
) -> bool:
    """One notice to ``member``'s chat; False if they cannot be reached or ``key`` was written."""
    if not reachability.reachable(member):
        return False
    assert member.telegram_id is not None  # a reachable member has a chat
    return await write(session, member.telegram_id, key, text, member_id=member.id, now=now)


async def queue(club: Club, member: Member, key: str, text: str) -> bool:
    """:func:`write_to` in a transaction of its own: a face telling a member after its action
    committed, so nobody hears of something a rollback took away."""
    async with transaction(club.sessions) as session:
        return await write_to(session, member, key, text)
