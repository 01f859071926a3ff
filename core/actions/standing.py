"""What a member reads about themselves: their points (``/points``), their history, and what their
invitations brought (``/invite``).

Reads are use cases too, so that no face holds a session: each finds the member by the actor
(:func:`core.actions.membership.member_of`, which also marks a member who had blocked the bot
reachable again, since they are talking to us) and returns what the screen shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import ledger, lots, purchases, referrals
from core import standing as standings
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import transaction
from core.errors import NotJoined
from core.models import LedgerEntry, Member, MemberStatus, utcnow
from core.purchases import PendingPoints
from core.referrals import ReferralStats
from core.standing import Standing


@dataclass(frozen=True)
class HistoryPage:
    """One page of the member's ledger, newest first; ``pending`` is not in the ledger yet."""

    member: Member
    entries: list[LedgerEntry]
    has_more: bool
    pending: PendingPoints


@dataclass(frozen=True)
class Invitations:
    member: Member
    stats: ReferralStats


async def points(club: Club, actor: Actor, now: datetime | None = None) -> Standing:
    """``/points``, the most asked question: read in one statement outside a transaction
    (:func:`core.standing.read`); only a member coming back after blocking the bot pays for a
    transaction, to be marked reachable again."""
    standing = await standings.read(
        club.reader, club.rules, actor.id, now or utcnow(), lots.EXPIRING_SOON
    )
    if standing is None or standing.status == MemberStatus.ERASED:
        raise NotJoined()
    if standing.status == MemberStatus.BLOCKED:
        async with transaction(club.sessions) as session:
            await member_of(session, actor)
    return standing


async def history(club: Club, actor: Actor, *, page: int, per_page: int) -> HistoryPage:
    """Page ``page`` (from 0) of the member's ledger, ``per_page`` entries a page."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        entries, has_more = await ledger.history(
            session, member.id, offset=page * per_page, limit=per_page
        )
        waiting = await purchases.pending(session, member.id)
    return HistoryPage(member, entries, has_more, waiting)


async def invitations(club: Club, actor: Actor) -> Invitations:
    """``/invite``: how many friends the member brought and what it earned them."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        stats = await referrals.stats(session, member.id)
    return Invitations(member, stats)
