"""Secrets the club makes for itself, once, and keeps in its own database (``club_secrets``).

Nothing configures them and they never leave the database: the salt of forgotten identities
(:mod:`core.identities`) and the key of the member cards' codes (:mod:`core.card_tokens`). Each is
made the first time something needs it, so a club that never uses a feature has no secret for it,
and a reader that finds none knows nothing was ever made with it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import ClubSecret


async def read(session: AsyncSession, name: str) -> str | None:
    """The secret ``name``, or None when it was never made."""
    return await session.scalar(select(ClubSecret.value).where(ClubSecret.name == name))


async def get_or_make(session: AsyncSession, name: str) -> str:
    """The secret ``name``, made on first use. Two processes making it at once keep the first."""
    value = await read(session, name)
    if value is not None:
        return value
    try:
        async with session.begin_nested():
            session.add(ClubSecret(name=name, value=secrets.token_hex(32)))
            await session.flush()
    except IntegrityError:
        pass  # another transaction made it first; its committed value is the one
    value = await read(session, name)
    assert value is not None
    return value
