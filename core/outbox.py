"""The outbox: every message the bot sends on its own is a row first, and a send second.

Writing the row and changing state happen in one transaction (a campaign's rows all at once), so a
crash loses nothing; the ``dedupe_key`` makes writing the same message twice write it once. One
sender drains the rows at Telegram's pace (:mod:`bot.notifications.sender`). A row is claimed
(``sending``) before the send and settled after it, so after a crash only the rows that were in
flight can be sent again, and :func:`release_stale` puts those back.

On PostgreSQL several senders can drain one outbox: :func:`claim` takes rows with
``FOR UPDATE SKIP LOCKED``, so no two senders ever hold the same row.

A member who blocked the bot gets nothing more: :func:`claim` never takes their rows,
:func:`settle_forbidden` marks them blocked and settles their other pending rows ``unreachable``,
and :func:`drop_blocked` does the same for rows written after they blocked us.

A member who asks to be forgotten gets nothing more either: :func:`cancel_for_member` settles their
queued and in-flight rows ``cancelled`` with their text blanked (it may name them), and
:func:`settle` never turns a cancelled row back into a pending one, so it is not retried. A message
already handed to Telegram when the member was forgotten cannot be called back.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import reachability
from core.db import Sessions
from core.models import Attempts, Delivery, DeliveryStatus, utcnow

MAX_ERROR = 255
BLOCKED_ERROR = "member blocked the bot"


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    dedupe_key: str,
    text: str,
    member_id: int | None = None,
    campaign_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> Delivery | None:
    """Add one message; ``None`` if a message with this key was already written."""
    now = now or utcnow()
    if await _key_exists(session, dedupe_key):
        return None
    delivery = Delivery(
        chat_id=chat_id, kind=kind, dedupe_key=dedupe_key, text=text, member_id=member_id,
        campaign_id=campaign_id, reply_markup=reply_markup, not_before=not_before or now,
        created_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(delivery)
            await session.flush()
    except IntegrityError:
        if await _key_exists(session, dedupe_key):
            return None  # written concurrently by another process: once is enough
        raise  # another constraint (an unknown member, say): a bug, not a duplicate
    return delivery


async def _key_exists(session: AsyncSession, dedupe_key: str) -> bool:
    found = await session.scalar(select(Delivery.id).where(Delivery.dedupe_key == dedupe_key))
    return found is not None


def _member_blocked() -> Any:
    return reachability.blocked_sql(Delivery.member_id)


async def claim(
    session: AsyncSession,
    limit: int,
    now: datetime | None = None,
    *,
    exclude_chat_ids: Collection[int] = (),
) -> list[Delivery]:
    """Take up to ``limit`` due rows for sending, oldest first; commit before sending them.

    Rows of members who blocked the bot are never taken, nor rows for ``exclude_chat_ids`` (the
    sender's chats that are still cooling down). Each claim counts as one attempt.
    """
    now = now or utcnow()
    query = (
        select(Delivery)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.not_before <= now,
            ~_member_blocked(),
        )
        .order_by(Delivery.not_before, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    if exclude_chat_ids:
        query = query.where(Delivery.chat_id.not_in(list(exclude_chat_ids)))
    rows = list(await session.scalars(query))
    for delivery in rows:
        delivery.status = DeliveryStatus.SENDING
        delivery.claimed_at = now
        delivery.attempts += 1
    await session.flush()
    return rows


def pending_again(
    table: type[Attempts], pending: str, not_before: datetime | None
) -> dict[str, Any]:
    """What puts claimed rows of either outbox back to pending: unclaimed, the attempt refunded,
    and due at ``not_before`` if given."""
    values: dict[str, Any] = {"status": pending, "claimed_at": None,
                              "attempts": table.attempts - 1}  # fmt: skip
    if not_before is not None:
        values["not_before"] = not_before
    return values


async def unclaim(
    session: AsyncSession, delivery_ids: Collection[int], not_before: datetime | None = None
) -> int:
    """Claimed rows the sender chose not to send after all: pending again, the attempt refunded."""
    if not delivery_ids:
        return 0
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == DeliveryStatus.SENDING)
        .values(**pending_again(Delivery, DeliveryStatus.PENDING, not_before))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def settle(
    session: AsyncSession,
    delivery_id: int,
    status: DeliveryStatus,
    *,
    error: str | None = None,
    retry_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Record how a send ended; with ``retry_at`` the row goes back to pending until then."""
    now = now or utcnow()
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR] if error else None}
    if retry_at is not None:
        values.update(status=DeliveryStatus.PENDING, not_before=retry_at, claimed_at=None)
    else:
        values["status"] = status
        if status == DeliveryStatus.SENT:
            values["sent_at"] = now
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status != DeliveryStatus.CANCELLED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def cancel_for_member(session: AsyncSession, member_id: int, *, chat_id: int | None) -> int:
    """The member is being forgotten: their unsent rows (by member, or to their private chat)
    ``cancelled``, text and buttons blanked. Returns how many."""
    recipient = Delivery.member_id == member_id
    if chat_id is not None:
        recipient = or_(recipient, Delivery.chat_id == chat_id)
    result = await session.execute(
        update(Delivery)
        .where(recipient, Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
        .values(status=DeliveryStatus.CANCELLED, text="", reply_markup=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def settle_forbidden(
    session: AsyncSession,
    delivery_id: int,
    *,
    chat_id: int,
    member_id: int | None,
    error: str | None = None,
    now: datetime | None = None,
) -> list[int | None]:
    """A 403: this row ``unreachable``, the member ``blocked``, and every other pending row for
    the same chat or member ``unreachable`` too, so nothing more is tried. Returns the campaign of
    each other row so settled (``None`` for rows of no campaign)."""
    await settle(session, delivery_id, DeliveryStatus.UNREACHABLE, error=error, now=now)
    same_recipient = Delivery.chat_id == chat_id
    if member_id is not None:
        await reachability.mark_blocked(session, member_id)
        same_recipient = or_(same_recipient, Delivery.member_id == member_id)
    return await _unreachable(session, same_recipient)


async def drop_blocked(session: AsyncSession) -> list[int | None]:
    """Pending rows of members who blocked the bot (written after they did): ``unreachable``.
    Returns the campaign of each row so settled."""
    return await _unreachable(session, _member_blocked())


async def _unreachable(session: AsyncSession, which: Any) -> list[int | None]:
    result = await session.scalars(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.PENDING, which)
        .values(status=DeliveryStatus.UNREACHABLE, last_error=BLOCKED_ERROR)
        .returning(Delivery.campaign_id)
        .execution_options(synchronize_session=False)
    )
    return list(result)


async def release_stale(
    session: AsyncSession, older_than: timedelta, now: datetime | None = None
) -> int:
    """Rows claimed by a sender that died: back to pending. Each may have been sent; at most once
    more, never more, because a row is only ever released once its claim is this old."""
    now = now or utcnow()
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < now - older_than)
        .values(status=DeliveryStatus.PENDING, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending row :func:`claim` would take may be sent (maybe already past);
    ``None`` if there is none."""
    return await session.scalar(
        select(func.min(Delivery.not_before)).where(
            Delivery.status == DeliveryStatus.PENDING, ~_member_blocked()
        )
    )


async def next_due_in(sessions: Sessions) -> datetime | None:
    """:func:`next_due` in a session of its own, for a sender between its rounds."""
    async with sessions() as session:
        return await next_due(session)


async def counts(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """How a campaign's deliveries stand, by status."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    )
    return {str(status): int(n) for status, n in rows.all()}
