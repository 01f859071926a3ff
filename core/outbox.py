"""The outbox: every message the bot sends on its own is a row first, and a send second.

Writing the row and changing state happen in one transaction (a campaign's rows all at once), so a
crash loses nothing; the ``dedupe_key`` makes writing the same message twice write it once. One
sender drains the rows at Telegram's pace (:mod:`bot.notifications.sender`). A row is claimed
(``sending``) before the send and settled after it, so after a crash only the rows that were in
flight can be sent again, and :func:`release_stale` puts those back.

On PostgreSQL several senders can drain one outbox: :func:`claim` takes rows with
``FOR UPDATE SKIP LOCKED``, so no two senders ever hold the same row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Delivery, DeliveryStatus, utcnow

MAX_ERROR = 255


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
    existing = await session.scalar(select(Delivery.id).where(Delivery.dedupe_key == dedupe_key))
    if existing is not None:
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
        return None  # written concurrently by another process: once is enough
    return delivery


async def claim(session: AsyncSession, limit: int, now: datetime | None = None) -> list[Delivery]:
    """Take up to ``limit`` due rows for sending, oldest first; commit before sending them."""
    now = now or utcnow()
    rows = list(
        await session.scalars(
            select(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.not_before <= now)
            .order_by(Delivery.not_before, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for delivery in rows:
        delivery.status = DeliveryStatus.SENDING
        delivery.claimed_at = now
        delivery.attempts += 1
    await session.flush()
    return rows


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
        .where(Delivery.id == delivery_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


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


async def counts(session: AsyncSession, campaign_id: int) -> dict[str, int]:
    """How a campaign's deliveries stand, by status."""
    rows = await session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Delivery.status)
    )
    return {str(status): int(n) for status, n in rows.all()}
