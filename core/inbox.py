"""The webhook's inbox: which process handles an update, once, and in order within its chat.

Behind a load balancer several ``bashgah run`` processes receive one bot's webhook. Telegram posts
an update again when its answer was slow or lost, perhaps to another process, and a process's
memory cannot tell that the update was taken. So every update is claimed here first, in the shared
database:

- :func:`claim` inserts its row: the first process to do so handles it; a redelivery finds the row
  and waits for that handling to end (:func:`handled`) before it answers, so Telegram never sends
  the chat's next update while this one is still being handled somewhere.
- A claim is a lease: the holder renews it while it works (:func:`holding`). A process that dies
  stops renewing, and after :data:`LEASE` the next redelivery takes the update over.
- :func:`turn_has_come` says whether an earlier update of the same chat is still in hand, in any
  process, so a chat's updates are handled in the order they arrived, wherever they landed.
- :func:`forget_handled` deletes rows older than Telegram keeps updates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, exists, select, update

from core.db import Sessions, insert_for, transaction
from core.models import TelegramUpdate, utcnow

LEASE = timedelta(seconds=60)  # a claim not renewed for this long belonged to a dead process
RENEW_SECONDS = 20.0  # how often the holder renews its claim while it works
KEEP = timedelta(days=2)  # Telegram keeps an update for a day; a redelivery is never older


class Claim(Enum):
    MINE = "mine"  # handle it
    HANDLED = "handled"  # answered before: answer again, handle nothing
    HELD = "held"  # another process is handling it: wait for it


async def claim(
    sessions: Sessions,
    update_id: int,
    chat_key: int | None,
    worker: str,
    now: datetime | None = None,
) -> Claim:
    """Take ``update_id`` for ``worker``, unless it was handled or is being handled elsewhere.

    A claim whose holder stopped renewing it (:data:`LEASE`) is taken over.
    """
    now = now or utcnow()
    async with transaction(sessions) as session:
        inserted = await session.execute(
            insert_for(session, TelegramUpdate)
            .values(update_id=update_id, chat_key=chat_key, worker=worker, claimed_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
        )
        if inserted.rowcount:
            return Claim.MINE
        taken_over = await session.execute(
            update(TelegramUpdate)
            .where(
                TelegramUpdate.update_id == update_id,
                TelegramUpdate.handled_at.is_(None),
                TelegramUpdate.claimed_at < now - LEASE,
            )
            .values(worker=worker, claimed_at=now)
        )
        if taken_over.rowcount:
            return Claim.MINE
        handled_at = await session.scalar(
            select(TelegramUpdate.handled_at).where(TelegramUpdate.update_id == update_id)
        )
    return Claim.HELD if handled_at is None else Claim.HANDLED


async def turn_has_come(
    sessions: Sessions, update_id: int, chat_key: int | None, now: datetime | None = None
) -> bool:
    """No earlier update of this chat is in hand anywhere (one whose lease ran out is not)."""
    if chat_key is None:
        return True
    now = now or utcnow()
    async with sessions() as session:
        earlier = await session.scalar(
            select(
                exists().where(
                    TelegramUpdate.chat_key == chat_key,
                    TelegramUpdate.update_id < update_id,
                    TelegramUpdate.handled_at.is_(None),
                    TelegramUpdate.claimed_at >= now - LEASE,
                )
            )
        )
    return not earlier


async def handled(sessions: Sessions, update_id: int) -> bool:
    """Whether ``update_id`` was handled, by any process."""
    async with sessions() as session:
        handled_at = await session.scalar(
            select(TelegramUpdate.handled_at).where(TelegramUpdate.update_id == update_id)
        )
    return handled_at is not None


@contextlib.asynccontextmanager
async def holding(sessions: Sessions, update_id: int, worker: str) -> AsyncIterator[None]:
    """While the block handles a claimed update, renew its lease; after it, mark it handled.

    Marked handled even when the block raises: the handler's error was answered (the error
    handler tells the user), and handling it again would answer twice.
    """
    renewing = asyncio.create_task(_renew(sessions, update_id, worker))
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        async with transaction(sessions) as session:
            await session.execute(
                update(TelegramUpdate)
                .where(TelegramUpdate.update_id == update_id)
                .values(handled_at=utcnow())
            )


async def _renew(sessions: Sessions, update_id: int, worker: str) -> None:
    while True:
        await asyncio.sleep(RENEW_SECONDS)
        async with transaction(sessions) as session:
            await session.execute(
                update(TelegramUpdate)
                .where(TelegramUpdate.update_id == update_id, TelegramUpdate.worker == worker)
                .values(claimed_at=utcnow())
            )


async def forget_handled(sessions: Sessions, now: datetime | None = None) -> int:
    """Delete the record of updates handled more than :data:`KEEP` ago; returns how many."""
    before = (now or utcnow()) - KEEP
    async with transaction(sessions) as session:
        result = await session.execute(
            delete(TelegramUpdate).where(TelegramUpdate.handled_at < before)
        )
    return int(result.rowcount or 0)
