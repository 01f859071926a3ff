"""Events for the shop's systems: what happened in the club, posted to every hook that takes it.

:func:`emit` writes one ``hook_deliveries`` row per live hook subscribed to the type, in the
*caller's* transaction, like the messages of :mod:`core.outbox`: an action that rolls back leaves
no event, and an event is never lost once its action committed. With no hook it writes nothing and
costs one read of the (tiny) hooks table. The rows are posted later by the hook sender
(:mod:`web.hook_sender`, over :mod:`core.hook_outbox`).

The body is fixed when the event happens: ``{"created_at", "data", "id", "type"}`` as JSON with
sorted keys and no spaces, stored as the exact text that is signed and sent, so a retry sends the
same bytes. ``id`` is the event's (a UUID), the same for every hook, so a receiver drops a retry
it already has. ``data`` names the member by their number (what staff and the API call them) and
phone where known, never their Telegram id, and says what the event is about.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from core import hooks
from core.event_types import (
    EVENT_TYPES,
    MEMBER_CLAIMED,
    MEMBER_JOINED,
    POINTS_EXPIRED,
    PURCHASE_RECORDED,
    PURCHASE_REFUNDED,
    REWARD_CONFIRMED,
    REWARD_REDEEMED,
    TIER_CHANGED,
)
from core.models import (
    Hook,
    HookDelivery,
    Member,
    Purchase,
    Redemption,
    Reward,
    TierChange,
    utcnow,
)

# The type names are :mod:`core.event_types`', here too so that a call site needs one import.
__all__ = [
    "EVENT_TYPES",
    "MEMBER_CLAIMED",
    "MEMBER_JOINED",
    "POINTS_EXPIRED",
    "PURCHASE_RECORDED",
    "PURCHASE_REFUNDED",
    "REWARD_CONFIRMED",
    "REWARD_REDEEMED",
    "TIER_CHANGED",
    "about",
    "emit",
    "emit_rows",
    "purchase",
    "redemption",
    "refund",
    "tier",
]

Data = Mapping[str, Any]


async def emit(
    session: AsyncSession, event_type: str, data: Data, now: datetime | None = None
) -> str | None:
    """One event to every live hook that takes it; its id, or None if no hook does."""
    targets = await hooks.subscribed(session, event_type)
    if not targets:
        return None
    return _write(session, targets, event_type, data, now or utcnow())


async def emit_rows(
    session: AsyncSession, event_type: str, query: Select[Any], now: datetime | None = None
) -> int:
    """One event per row of ``query`` (its labelled columns are the data), for the set-based
    sweeps; the query runs only if a hook takes the type. Returns how many events."""
    targets = await hooks.subscribed(session, event_type)
    if not targets:
        return 0
    rows = (await session.execute(query)).mappings().all()
    for row in rows:
        _write(session, targets, event_type, row, now or utcnow())
    return len(rows)


def _write(
    session: AsyncSession, targets: list[Hook], event_type: str, data: Data, now: datetime
) -> str:
    event_id = str(uuid.uuid4())
    body = _body(event_id, event_type, data, now)
    for hook in targets:
        session.add(
            HookDelivery(
                hook_id=hook.id, event_id=event_id, event_type=event_type, body=body,
                not_before=now, created_at=now,
            )
        )  # fmt: skip
    return event_id


def _body(event_id: str, event_type: str, data: Data, now: datetime) -> str:
    created_at = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event = {"id": event_id, "type": event_type, "created_at": created_at, "data": dict(data)}
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def about(member: Member, **facts: Any) -> dict[str, Any]:
    """The member the event is about (number and phone), and ``facts``."""
    return {"member": member.id, "phone": member.phone, **facts}


def purchase(member: Member, bought: Purchase, branch: str) -> dict[str, Any]:
    """``status``: ``pending`` while the points wait for the return window, else ``completed``;
    ``branch``: the code of the shop it was made in."""
    return about(
        member, reference=bought.reference, amount=bought.amount, currency=bought.currency,
        points=bought.points, status=str(bought.status), branch=branch,
    )  # fmt: skip


def refund(member: Member, refunded: Purchase, branch: str) -> dict[str, Any]:
    """``points_unrecovered``: points already spent when it was refunded, now owed."""
    return about(
        member, reference=refunded.reference, amount=refunded.amount, branch=branch,
        points_reversed=refunded.points_reversed, points_unrecovered=refunded.points_unrecovered,
    )  # fmt: skip


def redemption(
    member: Member, reward: Reward, redeemed: Redemption, *, branch: str | None = None
) -> dict[str, Any]:
    """``branch``: where it was handed over (reward.confirmed only; a member redeems anywhere)."""
    facts = {} if branch is None else {"branch": branch}
    return about(
        member, code=redeemed.code, reward_id=reward.id, reward=reward.title,
        points=redeemed.points, **facts,
    )  # fmt: skip


def tier(member: Member, change: TierChange) -> dict[str, Any]:
    """``reason``: ``purchase`` (an upgrade the moment it is reached) or ``evaluation`` (the
    monthly one, which writes its events from SQL in the same shape)."""
    return about(
        member, **{"from": change.old_tier, "to": change.new_tier, "reason": change.reason}
    )
