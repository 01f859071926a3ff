"""Staff reading the club: one member's file, the club's numbers, the audit log.

Nothing here changes anything, so there is no key and no audit entry; each still takes the staff
``actor``, like every use case, so the chat and the HTTP API call them the same way and a later
rule on who may read what has one place to go. The CSV export, which is audited because it carries
personal data away, is :func:`core.exports.export`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import audit, members, reports
from core.audit import Actor
from core.club import Club
from core.db import transaction
from core.models import AuditEntry, Member, utcnow
from core.reports import ClubStats, MemberSummary

AUDIT_LINES = 15


@dataclass(frozen=True)
class AuditLog:
    """The latest entries, newest first; ``member``: whose entries, or ``None`` for everyone's."""

    entries: list[AuditEntry]
    member: Member | None


async def member_file(club: Club, actor: Actor, query: str) -> MemberSummary:
    """``/member``: the member staff typed (:func:`core.members.find`) on one screen.

    :raises MemberNotFound: nobody answers to ``query``.
    """
    async with transaction(club.sessions) as session:
        member = await members.find(session, query)
        return await reports.member_summary(session, club.rules, member.id, utcnow())


async def club_stats(club: Club, actor: Actor) -> ClubStats:
    """``/stats``: the club at a glance (:func:`core.reports.club_stats`)."""
    async with transaction(club.sessions) as session:
        return await reports.club_stats(session, club.rules, utcnow())


async def audit_log(
    club: Club, actor: Actor, member_query: str | None = None, *, limit: int = AUDIT_LINES
) -> AuditLog:
    """``/audit [member]``: the latest ``limit`` entries, of one member if one is named.

    :raises MemberNotFound: a member is named and nobody answers to it.
    """
    async with transaction(club.sessions) as session:
        member = await members.find(session, member_query) if member_query else None
        entries = await audit.latest(session, member_id=member.id if member else None, limit=limit)
    return AuditLog(entries, member)
