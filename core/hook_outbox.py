"""The hooks' outbox: claiming due event deliveries for the sender, and settling each one.

Modelled on :mod:`core.outbox`: a row is claimed (``sending``) in one short transaction before it
is posted and settled in another after, so after a crash only the rows that were in flight can be
posted again, and :func:`release_stale` puts those back. On PostgreSQL :func:`claim` takes rows
with ``FOR UPDATE SKIP LOCKED``, so several senders never hold one row. Delivery is therefore at
least once: a receiver drops an event id it already has.

Each function opens its own transaction over the club's ``sessions``, so the sender
(:mod:`web.hook_sender`) holds no session: its crash safety is these boundaries. A 2xx answer is
``sent``; anything else (another status, a timeout, a refused connection) is tried again after
:func:`retry_delay`, and after :data:`MAX_ATTEMPTS` it is ``failed``. Every claim is an attempt.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update

from core.db import Sessions, transaction
from core.models import Hook, HookDelivery, HookDeliveryStatus, utcnow
from core.outbox import pending_again

MAX_ATTEMPTS = 12  # retried after 10 s, 20 s, 40 s … up to hourly: about 3.4 hours in all
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)
MAX_ERROR = 255


@dataclass(frozen=True)
class Due:
    """A claimed delivery with what posting it needs (its hook's URL and secret)."""

    id: int
    hook_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: str
    attempts: int  # this one included


def _in_flight() -> ColumnElement[bool]:
    return HookDelivery.status == HookDeliveryStatus.SENDING


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a delivery is tried again."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(attempts - 1, 20))


async def claim(sessions: Sessions, limit: int, now: datetime | None = None) -> list[Due]:
    """Take up to ``limit`` due deliveries of live hooks, in the order they became due (for
    fresh events: the order they happened), and count the attempt; committed on return."""
    now = now or utcnow()
    async with transaction(sessions) as session:
        rows = (
            await session.execute(
                select(HookDelivery, Hook.url, Hook.secret)
                .join(Hook, Hook.id == HookDelivery.hook_id)
                .where(
                    HookDelivery.status == HookDeliveryStatus.PENDING,
                    HookDelivery.not_before <= now,
                    Hook.removed_at.is_(None),
                )
                .order_by(HookDelivery.not_before, HookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=HookDelivery)
            )
        ).all()
        claimed = []
        for delivery, url, secret in rows:
            delivery.status = HookDeliveryStatus.SENDING
            delivery.claimed_at = now
            delivery.attempts += 1
            claimed.append(_due(delivery, url, secret))
    return claimed


def _due(delivery: HookDelivery, url: str, secret: str) -> Due:
    return Due(
        delivery.id, delivery.hook_id, url, secret, delivery.event_id, delivery.event_type,
        delivery.body, delivery.attempts,
    )  # fmt: skip


async def settle(
    sessions: Sessions, due: Due, error: str | None, now: datetime | None = None
) -> datetime | None:
    """Record how posting ``due`` ended (``error`` None: a 2xx). Returns when it is tried again,
    or None (sent, or given up as ``failed``). A row no longer ``sending`` (its hook removed, or
    released as stale meanwhile) is left as it is."""
    now = now or utcnow()
    retry_at = None
    values: dict[str, Any] = {"claimed_at": None, "last_error": error and error[:MAX_ERROR]}
    if error is None:
        values.update(status=HookDeliveryStatus.SENT, sent_at=now)
    elif due.attempts >= MAX_ATTEMPTS:
        values["status"] = HookDeliveryStatus.FAILED
    else:
        retry_at = now + retry_delay(due.attempts)
        values.update(status=HookDeliveryStatus.PENDING, not_before=retry_at)
    async with transaction(sessions) as session:
        await session.execute(
            update(HookDelivery)
            .where(HookDelivery.id == due.id, _in_flight())
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return retry_at


async def unclaim(
    sessions: Sessions, ids: Collection[int], not_before: datetime | None = None
) -> int:
    """Claimed rows not posted after all (the sender stopped, or an earlier event of the same
    hook failed and this one waits behind it): pending again, the attempt not counted."""
    if not ids:
        return 0
    async with transaction(sessions) as session:
        result = await session.execute(
            update(HookDelivery)
            .where(HookDelivery.id.in_(list(ids)), _in_flight())
            .values(**pending_again(HookDelivery, HookDeliveryStatus.PENDING, not_before))
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)


async def release_stale(
    sessions: Sessions, older_than: timedelta, now: datetime | None = None
) -> int:
    """Rows claimed by a sender that died: pending again. Each may have been posted already; the
    receiver gets it once more at most, with the same id."""
    now = now or utcnow()
    async with transaction(sessions) as session:
        result = await session.execute(
            update(HookDelivery)
            .where(_in_flight(), HookDelivery.claimed_at < now - older_than)
            .values(status=HookDeliveryStatus.PENDING, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)
