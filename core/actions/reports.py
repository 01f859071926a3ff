"""Staff reading the club: one member's file, the club's numbers, the audit log.

Nothing here changes anything, so there is no key and no audit entry, and each reads from a
:func:`core.db.snapshot`: consistent, and never in the purchases' way. Each still takes the staff
``actor``, like every use case, so the chat and the HTTP API call them the same way and a later
rule on who may read what has one place to go. The CSV export, which is audited because it carries
personal data away, is :func:`core.exports.export`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core import audit, branches, card_tokens, jalali, lots, members, purchases, reports, trends
from core.actions import cards
from core.audit import Actor
from core.club import Club
from core.db import Session, snapshot
from core.lots import Expiring
from core.models import AuditEntry, Branch, Member, Purchase, utcnow
from core.reports import BranchSales, ClubStats, MemberSummary
from core.trends import Trend

AUDIT_LINES = 15


@dataclass(frozen=True)
class AuditLog:
    """The latest entries, newest first; ``member``: whose entries, or ``None`` for everyone's."""

    entries: list[AuditEntry]
    member: Member | None


async def member_file(
    club: Club, actor: Actor, query: str, now: datetime | None = None
) -> MemberSummary:
    """``/member``: the member staff typed (:func:`core.members.find`), or whose card's code they
    scanned (:func:`core.actions.cards.holder`), on one screen.

    :raises MemberNotFound: nobody answers to ``query`` (:class:`CardTokenInvalid` for a code).
    :raises CardTokenExpired: the card's code is too old.
    """
    now = now or utcnow()
    if card_tokens.looks_like(query):
        return await _summary(club, lambda session: cards.holder(session, query, now), now)
    return await _summary(club, lambda session: members.find(session, query), now)


async def card_holder_file(
    club: Club, actor: Actor, token: str, now: datetime | None = None
) -> MemberSummary:
    """The member whose card's code the till scanned, on one screen; unlike :func:`member_file`
    nothing but a code is taken, so a typed number is not mistaken for one.

    :raises CardTokenInvalid: not a genuine code.
    :raises CardTokenExpired: genuine, but too old.
    """
    now = now or utcnow()
    return await _summary(club, lambda session: cards.holder(session, token, now), now)


async def _summary(
    club: Club, find: Callable[[Session], Awaitable[Member]], now: datetime
) -> MemberSummary:
    async with snapshot(club.sessions) as session:
        member = await find(session)
        return await reports.member_summary(session, club.rules, member.id, now)


async def club_stats(club: Club, actor: Actor) -> ClubStats:
    """``/stats``: the club at a glance (:func:`core.reports.club_stats`)."""
    async with snapshot(club.sessions) as session:
        return await reports.club_stats(session, club.rules, utcnow())


@dataclass(frozen=True)
class Stats:
    """``/stats``: the whole club and every branch's till, or one branch's till alone."""

    club: ClubStats | None  # None for one branch: members and points belong to the whole club
    sales: list[BranchSales]  # every branch's, or ``branch``'s alone
    branch: Branch | None  # the filter; None: every branch
    trend: Trend | None = None  # the club's last weeks; None for one branch
    expiry_forecast: list[Expiring] | None = None  # None for one branch


async def stats(club: Club, actor: Actor, *, branch: str | None = None) -> Stats:
    """``/stats [branch]``: without a branch the club's numbers, its last weeks (in the club's
    time zone, weeks starting on the club language's first weekday), the expiry forecast and each
    branch's sales; with one (a code), that branch's sales.

    :raises BranchNotFound: no branch has that code.
    """
    now = utcnow()
    async with snapshot(club.sessions) as session:
        shop = await branches.by_optional_code(session, branch)
        if shop is not None:
            return Stats(None, await reports.branch_sales(session, shop.id), shop)
        weekday = jalali.first_weekday(club.settings.locale)
        return Stats(
            club=await reports.club_stats(session, club.rules, now),
            sales=await reports.branch_sales(session),
            branch=None,
            trend=await trends.trend(session, now, club.settings.tz, weekday),
            expiry_forecast=await lots.forecast(session, now),
        )


@dataclass(frozen=True)
class PurchasePage:
    """A page of purchases, oldest first, each with its branch's code; ``next_after``: the
    ``after`` of the next page, None on the last."""

    purchases: list[tuple[Purchase, str]]
    next_after: int | None


async def purchase_page(
    club: Club, actor: Actor, *, branch: str | None, after: int | None, limit: int
) -> PurchasePage:
    """The purchases of ``branch`` (None: every branch) after id ``after``, ``limit`` at most.

    :raises BranchNotFound: no branch has that code.
    """
    async with snapshot(club.sessions) as session:
        shop = await branches.by_optional_code(session, branch)
        found = await purchases.page(
            session, branch_id=shop.id if shop else None, after=after, limit=limit + 1
        )
    more = len(found) > limit
    return PurchasePage(found[:limit], found[limit - 1][0].id if more else None)


async def audit_log(
    club: Club, actor: Actor, member_query: str | None = None, *, limit: int = AUDIT_LINES
) -> AuditLog:
    """``/audit [member]``: the latest ``limit`` entries, of one member if one is named.

    :raises MemberNotFound: a member is named and nobody answers to it.
    """
    async with snapshot(club.sessions) as session:
        member = await members.find(session, member_query) if member_query else None
        entries = await audit.latest(session, member_id=member.id if member else None, limit=limit)
    return AuditLog(entries, member)
