"""Segments: a small rule language over member facts, parsed (never ``eval``'d) into one query.

Staff type rules such as ``tier >= gold and days_inactive > 60 and nps_last <= 6``. :func:`parse`
reads one into a validated tree (:class:`Segment`) or raises :class:`~core.errors.SegmentError`
pointing at the token where reading stopped; :func:`member_ids` compiles the tree into a single
``SELECT members.id ...`` whose conditions are correlated subqueries (and, for the RFM scores, a
join to one row of quintile cuts), so a segment over a million members is one statement and never a
loop in Python.

Grammar (keywords, field names, tier names and ``true``/``false`` in any letter case)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" expr ")" | comparison | builtin
    comparison := field op value | field "in" "(" value ("," value)* ")"
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    builtin    := "birthday within" N "days" | "near_next_tier" | a name of BUILTIN

Values are whole numbers (ASCII, Persian or Arabic-Indic digits, ``_`` between groups), quoted text
(``"..."`` or ``'...'``), or bare words: tier keys, ``true``/``false``, and single-word text.

Other words for the language's own (Persian field, tier and keyword names: ``tier >= silver`` typed
as the Persian for "tier" and for "silver") are read through a :class:`Vocabulary` the face builds
from its locales (:mod:`~core.segments.words`); the Arabic-script comma separates a list too. The
parsed :class:`Segment` keeps the rule as typed (``text``) and in the language's own words
(``canonical``, what a campaign saves).

Fields, per active member (only members whose status is ``active`` are ever selected):

``tier``
    compared along the rules' ladder: ``tier >= gold`` is gold or above. A tier the rules no longer
    have ranks as the base tier, as :meth:`core.rules.Rules.tier_rank` says.
``balance``, ``qualifying_points``
    the spendable balance; points of completed purchases in the tier window (as :mod:`core.tiers`).
``days_inactive``
    whole days (floored 24-hour days) since the last completed purchase; for a member who never
    bought, since joining. Every ``days_*`` comparison is rewritten to a comparison of a timestamp
    with a cut-off computed from ``now`` (``days_inactive > 60`` is "last purchase at or before
    ``now - 61 days``"), so no date arithmetic runs in SQL and both engines agree.
``days_since_joining``
    whole days since ``joined_at``, the same way.
``purchases_<N>d``, ``spend_<N>d``
    count and sum of amounts of completed purchases made in the last N days (``created_at >
    now - N days``), N from 1 to 3650.
``recency``, ``frequency``, ``monetary``
    RFM scores 1-5: quintiles (``NTILE(5)``) over active members with at least one completed
    purchase in the last 365 days, by the time of the last purchase, the number of purchases and
    the amount spent in that window. Equal values get equal scores: the lowest quintile their group
    reaches. Members without a purchase in the window score 1 on all three (nothing is less recent,
    less frequent or smaller than nothing). In SQL the quintiles are cut once (one row holding the
    largest value of each quintile, joined to every member) and a score comparison becomes a
    comparison of the member's own value with those cuts; a sort of the year's buyers per score
    used makes these the slowest fields (about a second per score over a million members, SQLite).
``birthday_month``
    the Jalali month (1-12) of the birthday's anniversary in the current Jalali year (see below).
``birthday within N days`` (N from 1 to 366)
    the birthday's month and day falls on one of the N days starting today, across the year end.
    A 29 February birthday counts on 1 March in common years.
``city``
    text, compared without letter case (``=``, ``!=``, ``in``).
``interest``
    ``interest = "events"`` matches members whose profile JSON contains the string ``"events"``
    (quotes included, so ``event`` does not match ``events``), without letter case. Profile choices
    are distinct across sections (``core``'s profile keys), so this is the interests list.
``referrals``
    how many members this member referred (every referral row, rewarded or not).
``nps_last``
    the score of the member's latest NPS answer.
``offers``
    ``true`` or ``false``: whether the member accepts offers.
``near_next_tier`` (a condition on its own)
    qualifying points at least 90% of the threshold of the tier above the member's own, and still
    below it (gold members between 18,000 and 19,999 of platinum's 20,000); never the top tier.

Missing facts (no birthday, no city, no NPS answer) never satisfy a comparison, ``!=`` included;
``not`` is the exact complement, so ``not nps_last <= 6`` includes members who never answered.

Dates: "today" is ``now``'s own calendar date, in ``now``'s own time zone. Pass ``now`` converted
to the club's zone to count birthdays by the club's calendar (a UTC ``now`` reads the UTC date).

Birthday months without converting a million birthdays in Python: a Jalali month of the current
Jalali year is one range of Gregorian days, so "Jalali month m" becomes a condition on the
birthday's Gregorian ``month * 100 + day`` (``mmdd``): Farvardin 1404 is 2025-03-21..2025-04-20, so
``birthday_month = 1`` is ``mmdd BETWEEN 321 AND 420``; Dey spans the year end and becomes ``mmdd >=
1222 OR mmdd <= 120``. The twelve ranges of a year cover every ``mmdd`` exactly once (29 February
falls inside Esfand). Because Nowruz moves by a day between years, a birthday on a boundary day is
read by this year's calendar. A Jalali year is 365 or 366 days over a Gregorian stretch that may
have the other length, so one ``mmdd`` at Nowruz can occur twice or not at all; Esfand is cut to
end the day before this year's Farvardin 1 so that every birthday has exactly one month.

Built-in segments (:data:`BUILTIN`) are written in the language itself; ``{churn_days}`` is filled
in from ``rules.messaging.churn_days``. ``at_risk`` is "once frequent, now inactive": frequency is
scored over the last 365 days, so "once frequent" means the top three frequency quintiles of the
past year, and "now inactive" means no completed purchase for more than ``churn_days``; a member
quiet for the whole year has frequency 1 and has left the segment (a churn window of a year or more
leaves it empty).

The package reads a rule in three steps, one module each, around a shared vocabulary:
:mod:`~core.segments.lexer` (text to tokens), :mod:`~core.segments.parser` (tokens to a validated
:mod:`~core.segments.tree`), :mod:`~core.segments.compiler` (tree to SQL), with the fields and
operators in :mod:`~core.segments.fields` and the built-in segments in
:mod:`~core.segments.builtin`. This module holds the entry points other code imports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, join, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import SegmentError
from core.jalali import jalali_month_spans
from core.models import Member, MemberStatus
from core.segments.builtin import BUILTIN, builtin_rule
from core.segments.compiler import RFM_WINDOW_DAYS, _Compiler
from core.segments.fields import _FIELDS as _FIELDS
from core.segments.parser import MAX_DEPTH, MAX_LENGTH, parse
from core.segments.tree import And as And
from core.segments.tree import BirthdayWithin as BirthdayWithin
from core.segments.tree import Compare as Compare
from core.segments.tree import Named as Named
from core.segments.tree import NearNextTier as NearNextTier
from core.segments.tree import Node as Node
from core.segments.tree import Not as Not
from core.segments.tree import Or as Or
from core.segments.tree import Segment
from core.segments.tree import Value as Value
from core.segments.words import NONE, WORDS, Vocabulary, vocabulary

__all__ = [
    "BUILTIN",
    "FIELDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "NONE",
    "RFM_WINDOW_DAYS",
    "WORDS",
    "Segment",
    "SegmentError",
    "Vocabulary",
    "builtin_rule",
    "count",
    "jalali_month_spans",
    "member_ids",
    "parse",
    "sample",
    "vocabulary",
]

#: The fields a rule compares, in the order the staff are shown them (``{n}``: a window's days).
FIELDS = (*_FIELDS, "purchases_{n}d", "spend_{n}d")


def _select(segment: Segment, now: datetime, *entities: Any) -> Select[Any]:
    compiler = _Compiler(segment.rules, now, segment.root)
    condition = compiler.condition(segment.root)
    query = select(*entities)
    if compiler.rfm is not None:
        # The quintile cuts are one row, computed once and joined to every member.
        query = query.select_from(join(Member, compiler.rfm, true()))
    return query.where(Member.status == MemberStatus.ACTIVE, condition)


def member_ids(segment: Segment, now: datetime) -> Select[tuple[int]]:
    """``SELECT members.id`` of the active members in the segment; ``now`` goes in as parameters."""
    return _select(segment, now, Member.id)


async def count(session: AsyncSession, segment: Segment, now: datetime) -> int:
    query = select(func.count()).select_from(member_ids(segment, now).subquery())
    return int(await session.scalar(query) or 0)


async def sample(
    session: AsyncSession, segment: Segment, now: datetime, limit: int = 5
) -> list[Member]:
    """A few members of the segment, lowest member numbers first, for a preview."""
    query = _select(segment, now, Member).order_by(Member.id).limit(limit)
    return list((await session.scalars(query)).all())
