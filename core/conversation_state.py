"""Half-finished conversations and their drafts, kept in the database so a restart loses neither.

The bot's persistence (:mod:`bot.persistence`) calls these with the club's sessions and plain
values: a conversation is a name, a key (its chat and user ids) and a state; a user's drafts are a
JSON object. Each call is its own short transaction, so a step is durable before the next update
is confirmed. Keys are stored as JSON text, so one table holds both kinds.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import insert_for, transaction
from core.models import ConversationState, utcnow

CONVERSATION = "conversation"
USER_DATA = "user_data"

ConversationKey = tuple[int | str, ...]
Sessions = async_sessionmaker[AsyncSession]


async def conversations(sessions: Sessions, name: str) -> dict[ConversationKey, Any]:
    """Every open conversation of the flow ``name``, by key."""
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(ConversationState.key, ConversationState.value).where(
                ConversationState.kind == CONVERSATION, ConversationState.name == name
            )
        )
        return {tuple(json.loads(key)): value for key, value in rows}


async def set_conversation(
    sessions: Sessions, name: str, key: ConversationKey, state: Any | None
) -> None:
    """Record where a conversation stands; ``None`` (it ended) removes it."""
    await _put(sessions, CONVERSATION, name, json.dumps(list(key)), state)


async def user_data(sessions: Sessions) -> dict[int, dict[str, Any]]:
    """Every user's stored drafts, by user id."""
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(ConversationState.key, ConversationState.value).where(
                ConversationState.kind == USER_DATA
            )
        )
        return {int(key): value for key, value in rows}


async def set_user_data(sessions: Sessions, user_id: int, data: dict[str, Any] | None) -> None:
    """Store a user's drafts; empty or ``None`` removes the row, so idle members cost nothing."""
    await _put(sessions, USER_DATA, "", str(user_id), data or None)


async def _put(sessions: Sessions, kind: str, name: str, key: str, value: Any | None) -> None:
    where = (
        ConversationState.kind == kind,
        ConversationState.name == name,
        ConversationState.key == key,
    )
    async with transaction(sessions) as session:
        if value is None:
            await session.execute(delete(ConversationState).where(*where))
            return
        # One statement either way, so two writers of the same row never collide on the insert.
        row = {"kind": kind, "name": name, "key": key, "value": value, "updated_at": utcnow()}
        statement = insert_for(session, ConversationState).values(**row)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["kind", "name", "key"],
                set_={"value": statement.excluded.value, "updated_at": row["updated_at"]},
            )
        )
