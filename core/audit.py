"""The staff audit log: who did what to whom, when, and the state before and after.

Written in the same transaction as the action it records, so the log and the books cannot
disagree: an action that rolled back leaves no entry, and every entry describes something done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import AuditEntry, utcnow


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff member or a member by Telegram user id, or :data:`SYSTEM`. Every core
    action takes one, so the chat, the jobs and the HTTP API leave the same trail."""

    id: int
    name: str | None = None


SYSTEM = Actor(0)  # what the club's rules do by themselves: a lottery drawn, a number moving owner


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    action: str,
    member_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        member_id=member_id,
        before=before or {},
        after=after or {},
        created_at=now or utcnow(),
    )
    session.add(entry)
    await session.flush()
    return entry


async def latest(
    session: AsyncSession, *, member_id: int | None = None, limit: int = 10
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    if member_id is not None:
        query = query.where(AuditEntry.member_id == member_id)
    return list(await session.scalars(query.limit(limit)))
