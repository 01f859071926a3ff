"""Keys for the HTTP API: made and revoked by the owner on the command line, checked per request.

A key is ``bgh_`` and 32 random URL-safe characters, shown once when made. Only its SHA-256 is
stored, so checking a key is one lookup by hash (a wrong key matches no row; there is no per-byte
comparison to time), and a copy of the database opens nothing. A revoked key stays listed, with
the date, so the audit entries of its name still say whose they were.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core import branches
from core.audit import Actor
from core.club import Club
from core.db import snapshot, transaction
from core.errors import BranchNotFound, InvalidInput
from core.models import ApiKey, utcnow

KEY_PREFIX = "bgh_"
PREFIX_SHOWN = 12  # characters of a key ``bashgah api-key list`` shows to tell keys apart
MAX_NAME = 64
MAX_BRANCH = branches.MAX_CODE
DEFAULT_BRANCH = branches.MAIN


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown once and never stored."""

    key: ApiKey
    secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def actor_of(key: ApiKey) -> Actor:
    """A key acts under its name; its id is negative so it never collides with a Telegram user's
    in the audit log."""
    return Actor(-key.id, f"api:{key.name}")


async def create(club: Club, name: str, *, branch: str = DEFAULT_BRANCH) -> NewKey:
    """A key that sells in ``branch``, which must exist (``bashgah branch add`` first)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput("api_key_name", name)
    try:
        branch = branches.clean_code(branch)
    except InvalidInput:
        raise InvalidInput("api_key_branch", branch) from None
    secret = KEY_PREFIX + secrets.token_urlsafe(24)
    async with transaction(club.sessions) as session:
        if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
            raise InvalidInput("api_key_name_taken", name)
        try:
            await branches.by_code(session, branch)
        except BranchNotFound:
            raise InvalidInput("api_key_branch_unknown", branch) from None
        key = ApiKey(
            name=name, branch=branch, prefix=secret[:PREFIX_SHOWN], key_hash=digest(secret)
        )
        session.add(key)
    return NewKey(key, secret)


async def listing(club: Club) -> list[ApiKey]:
    async with snapshot(club.sessions) as session:
        return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


async def revoke(club: Club, name: str, now: datetime | None = None) -> ApiKey:
    """Revoke the key called ``name``; revoking it again changes nothing."""
    async with transaction(club.sessions) as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.name == name))
        if key is None:
            raise InvalidInput("api_key_unknown", name)
        if key.revoked_at is None:
            key.revoked_at = now or utcnow()
    return key


async def authenticate(club: Club, secret: str) -> ApiKey | None:
    """The live key whose secret this is, or None (unknown, malformed or revoked)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        return None
    async with snapshot(club.sessions) as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(secret)))
    if key is None or key.revoked_at is not None:
        return None
    return key
