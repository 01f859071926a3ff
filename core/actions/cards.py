"""The member card's code (:mod:`core.card_tokens`): made for the member who opens their card,
and read back to a member for staff and the till.

The Mini App asks for a fresh code every minute, so issuing one costs what the member's other
screens cost (one short transaction that finds them, :func:`member_of`) and no more: the club's
``card`` secret is written once, by the first card ever opened, and only then does issuing take
the writer's turn (:meth:`core.club.Club.write`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import card_tokens, club_secrets, members
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import Session, transaction
from core.errors import CardTokenInvalid
from core.models import Member, utcnow

SECRET_NAME = "card"


@dataclass(frozen=True)
class IssuedCard:
    """The member whose card it is, and its code, accepted until ``valid_until``."""

    member: Member
    token: str
    valid_until: datetime


async def issue(club: Club, actor: Actor, now: datetime | None = None) -> IssuedCard:
    """The acting member's card with a code for this minute; a non-member gets :class:`NotJoined`.

    Like every member's action it marks them reachable again (:func:`member_of`).
    """
    now = now or utcnow()
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        secret = await club_secrets.read(session, SECRET_NAME)
    if secret is None:  # the club's first card: make its key, once

        async def unit(session: Session) -> str:
            return await club_secrets.get_or_make(session, SECRET_NAME)

        secret = await club.write(unit)
    token = card_tokens.issue(secret, member.id, now)
    return IssuedCard(member, token.text, token.valid_until)


async def holder(session: Session, text: str, now: datetime) -> Member:
    """The member whose card showed ``text`` (:func:`core.card_tokens.resolve`).

    With no ``card`` secret no card was ever opened, so no code is genuine. An erased member's
    code names nobody any more.

    :raises CardTokenInvalid: not a genuine code, or its member is gone.
    :raises CardTokenExpired: genuine, but too old.
    """
    secret = await club_secrets.read(session, SECRET_NAME)
    if secret is None:
        raise CardTokenInvalid()
    member = await members.by_number(session, card_tokens.resolve(secret, text, now))
    if member is None:
        raise CardTokenInvalid()
    return member
