"""Forgotten identities: what stays of a person after /forget or /erase, so a comeback is known.

Only a keyed hash is kept, HMAC-SHA256 under a salt the club makes for itself once
(:mod:`core.club_secrets`): without the salt the digests cannot be matched against a list of
numbers, and the salt never leaves the database. What is remembered is what proves who someone
is: the Telegram user id, and the phone only when Telegram verified it. A typed number proves
nothing; remembering it would let a typist cost the real owner their welcome bonus.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import club_secrets
from core.models import ForgottenIdentity, Member, utcnow

SALT_NAME = "forgotten_salt"


async def remember(session: AsyncSession, member: Member, now: datetime | None = None) -> None:
    """Keep the digests of ``member``'s Telegram id and verified phone (call before erasing)."""
    salt = await club_secrets.get_or_make(session, SALT_NAME)
    for digest in _digests(salt, member.telegram_id, _proven_phone(member)):
        if await session.get(ForgottenIdentity, digest) is not None:
            continue  # forgotten before, under an earlier membership
        try:
            async with session.begin_nested():
                session.add(ForgottenIdentity(digest=digest, created_at=now or utcnow()))
                await session.flush()
        except IntegrityError:
            pass  # the same identity forgotten at the same moment elsewhere: once is enough


async def is_forgotten(
    session: AsyncSession, *, telegram_id: int | None, verified_phone: str | None
) -> bool:
    """Whether the Telegram id or the verified (normalized) phone was a forgotten member's."""
    salt = await club_secrets.read(session, SALT_NAME)
    if salt is None:  # nobody was ever forgotten
        return False
    digests = _digests(salt, telegram_id, verified_phone)
    if not digests:
        return False
    found = await session.scalar(
        select(ForgottenIdentity.digest).where(ForgottenIdentity.digest.in_(digests)).limit(1)
    )
    return found is not None


def _proven_phone(member: Member) -> str | None:
    return member.phone if member.phone_verified else None


def _digests(salt: str, telegram_id: int | None, phone: str | None) -> list[str]:
    values = [("telegram", telegram_id), ("phone", phone)]
    return [_digest(salt, f"{kind}:{value}") for kind, value in values if value is not None]


def _digest(salt: str, value: str) -> str:
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()
