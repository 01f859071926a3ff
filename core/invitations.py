"""Staff join links: how a club by invitation (``club_mode = "limited"``) gets its first members,
before any member has a referral link to share.

Staff make a link for a number of newcomers and a number of days (:func:`create`); the link's code
is random and long enough that it cannot be guessed. Each newcomer who joins through it takes one
use with a single conditional ``UPDATE`` (:func:`take_one`), in the transaction that creates the
member: on PostgreSQL the second of two racing joins waits for the first's row lock and then finds
no use left, and on SQLite writers take turns, so a link never lets in more people than it was
made for. A join that fails for any other reason rolls back with the use.

In an open club anyone may join, so a link is simply ``/start``: nothing is taken or refused.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidNumber, InviteLinkExpired, InviteLinkUsedUp
from core.models import StaffInvitation

LINK_PREFIX = "inv_"
CODE_BYTES = 18  # 24 URL-safe characters, 144 random bits
DEFAULT_USES, MAX_USES = 1, 1_000
DEFAULT_DAYS, MAX_DAYS = 7, 365


def code_of(start_argument: str | None) -> str | None:
    """The code of a ``/start inv_<code>`` argument; None for a referral code or nothing."""
    if start_argument and start_argument.startswith(LINK_PREFIX):
        return start_argument[len(LINK_PREFIX) :] or None
    return None


def link(bot_username: str, invitation: StaffInvitation) -> str:
    return f"https://t.me/{bot_username}?start={LINK_PREFIX}{invitation.code}"


def check_bounds(uses: int, days: int) -> None:
    """:raises InvalidNumber: ``uses`` or ``days`` below 1 or above its maximum."""
    for value, most in ((uses, MAX_USES), (days, MAX_DAYS)):
        if value < 1:
            raise InvalidNumber("not_positive", str(value))
        if value > most:
            raise InvalidNumber("too_large", str(value))


async def create(
    session: AsyncSession, *, uses: int, days: int, created_by: int, now: datetime
) -> StaffInvitation:
    invitation = StaffInvitation(
        code=secrets.token_urlsafe(CODE_BYTES), uses_left=uses,
        expires_at=now + timedelta(days=days), created_by=created_by, created_at=now,
    )  # fmt: skip
    session.add(invitation)
    await session.flush()
    return invitation


async def usable(session: AsyncSession, code: str, now: datetime) -> StaffInvitation | None:
    """The invitation if it still opens the club; None for a code nobody made.

    :raises InviteLinkExpired: its days are over.
    :raises InviteLinkUsedUp: as many people as it was made for have joined through it.
    """
    invitation = await session.scalar(select(StaffInvitation).where(StaffInvitation.code == code))
    if invitation is not None and (invitation.expires_at <= now or invitation.uses_left <= 0):
        raise _spent(invitation, now)
    return invitation


async def take_one(session: AsyncSession, code: str, now: datetime) -> StaffInvitation | None:
    """Take one use of the invitation for a newcomer joining now; None for a code nobody made.

    :raises InviteLinkExpired: its days are over.
    :raises InviteLinkUsedUp: no use is left, even if another join took the last one a moment ago.
    """
    taken = await session.scalar(
        update(StaffInvitation)
        .where(
            StaffInvitation.code == code,
            StaffInvitation.uses_left > 0,
            StaffInvitation.expires_at > now,
        )
        .values(uses_left=StaffInvitation.uses_left - 1)
        .returning(StaffInvitation.id)
    )
    invitation = await session.scalar(select(StaffInvitation).where(StaffInvitation.code == code))
    if invitation is not None and taken is None:
        raise _spent(invitation, now)
    return invitation


def _spent(invitation: StaffInvitation, now: datetime) -> InviteLinkExpired | InviteLinkUsedUp:
    return InviteLinkExpired() if invitation.expires_at <= now else InviteLinkUsedUp()
