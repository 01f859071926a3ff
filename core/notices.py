"""Notices: a message telling someone what happened, as an outbox row the sender delivers later.

A draw's results and what the API did to a member (a purchase, a refund) are told this way: the
row is written once whatever retries it (its ``key`` names the event and whom it tells, so a
replayed draw or request writes nothing twice), and a member the bot cannot reach
(:func:`core.reachability.reachable`) gets no row at all. A notice is not an offer, so it counts
against no member's weekly cap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import outbox, reachability
from core.models import Member, Purchase

KIND = "notice"
PURCHASE, REFUND, CLAWBACK = "notify/purchase", "notify/refund", "notify/clawback"
#: A face's words for a notice: ``render(template key, member, **values)`` in the member's language.
Render = Callable[..., str]


def about(purchase: Purchase, topic: str) -> str:
    """The key of a notice about ``purchase``: ``notice:<topic>:<purchase id>``, told once."""
    return f"notice:{topic}:{purchase.id}"


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
