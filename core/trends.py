"""The club week by week: purchases, sales, active and new members over the last weeks.

A week is the club's own: it starts at midnight in the club's time zone on the club's first
weekday, Saturday in Persian (as Iranian calendars have it) and Monday otherwise
(:func:`core.jalali.first_weekday`). The last week is the current one, so far. The bounds are
local midnights worked out here, so the database needs no time zones and a change of UTC offset
moves no purchase into the wrong week.

Each table is read once: a ``CASE`` numbers the week a row falls in and one ``GROUP BY`` counts
them all, so twelve weeks cost two queries (purchases, joins), not twelve times four.

- purchases and sales: purchases recorded and not refunded (pending ones included), as a branch's
  till counts them (:func:`core.reports.branch_sales`), and their amounts;
- active members: the members who made at least one of those purchases that week;
- new members: the members who joined that week, erased ones left out as in the club's totals.

Beside the weeks, the redemption rate of the period: points spent on rewards divided by points
issued in the same weeks (:class:`core.reports.PointFlows`), so it reads "of the points we gave
out lately, this share came back as rewards".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Member, MemberStatus, Purchase, PurchaseStatus
from core.reports import PointFlows, point_flows

WEEKS = 12
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Week:
    start: date  # its first day, in the club's time zone
    purchases: int
    sales: int  # in the club's currency
    active_members: int
    new_members: int


@dataclass(frozen=True)
class Trend:
    """The last weeks, oldest first, the current week last; and the points of the same weeks."""

    weeks: list[Week]
    first_weekday: int  # the day each week starts on (``date.weekday()``: Monday 0)
    points: PointFlows

    @property
    def redemption_rate(self) -> float | None:
        """Points redeemed / points issued in these weeks; None when none were issued."""
        return self.points.redeemed / self.points.issued if self.points.issued else None


def week_starts(now: datetime, tz: tzinfo, first_weekday: int, weeks: int = WEEKS) -> list[date]:
    """The first days of the ``weeks`` weeks up to the one ``now`` falls in, oldest first."""
    today = now.astimezone(tz).date()
    current = today - timedelta(days=(today.weekday() - first_weekday) % 7)
    return [current - WEEK * back for back in range(weeks - 1, -1, -1)]


async def trend(
    session: AsyncSession, now: datetime, tz: tzinfo, first_weekday: int, weeks: int = WEEKS
) -> Trend:
    """The club's last ``weeks`` weeks up to ``now`` (see the module's docstring)."""
    days = week_starts(now, tz, first_weekday, weeks)
    bounds = [datetime.combine(day, time(), tzinfo=tz) for day in [*days, days[-1] + WEEK]]
    start, end = bounds[0], bounds[-1]

    kept = Purchase.status != PurchaseStatus.REFUNDED
    sold = (
        select(_week_of(Purchase.created_at, bounds).label("week"), Purchase.member_id,
               Purchase.amount)
        .where(kept, Purchase.created_at >= start, Purchase.created_at < end)
        .subquery()
    )  # fmt: skip
    # Grouped in an outer query: PostgreSQL would not match the bound CASE in a GROUP BY.
    by_week = await session.execute(
        select(
            sold.c.week,
            func.count(),
            func.coalesce(func.sum(sold.c.amount), 0),
            func.count(distinct(sold.c.member_id)),
        ).group_by(sold.c.week)
    )
    sales = {int(week): [int(n) for n in rest] for week, *rest in by_week.all()}

    joined = (
        select(_week_of(Member.joined_at, bounds).label("week"))
        .where(
            Member.status != MemberStatus.ERASED,
            Member.joined_at >= start,
            Member.joined_at < end,
        )
        .subquery()
    )
    counted = await session.execute(select(joined.c.week, func.count()).group_by(joined.c.week))
    joins = {int(week): int(n) for week, n in counted.all()}
    return Trend(
        weeks=[
            Week(day, *sales.get(index, [0, 0, 0]), new_members=joins.get(index, 0))
            for index, day in enumerate(days)
        ],
        first_weekday=first_weekday,
        points=await point_flows(session, since=start, until=end),
    )


def _week_of(column: Any, bounds: list[datetime]) -> ColumnElement[int]:
    """The index of the week ``column`` falls in, for rows already inside ``bounds``."""
    inner = bounds[1:-1]
    if not inner:
        return literal(0)
    return case(*((column < bound, index) for index, bound in enumerate(inner)), else_=len(inner))
