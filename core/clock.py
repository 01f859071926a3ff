"""Time helpers: the database speaks UTC; people and calendars speak the club's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.models import CLOCK, utcnow

__all__ = ["advance", "after_days", "end_of_local_day", "last_local_day", "utcnow"]


def advance(span: timedelta) -> None:
    """Move the process's clock ``span`` ahead (``bashgah shell``'s ``/advance``); never back."""
    if span < timedelta(0):
        raise ValueError("time only moves forward")
    CLOCK.ahead += span


def after_days(moment: datetime, days: int) -> datetime:
    """``moment`` plus whole days; expiry "365 days after" means exactly that many 24-hour days."""
    return moment.astimezone(UTC) + timedelta(days=days)


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """ "Until 1405/01/15" means through that whole day in the club: up to the next midnight."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)


def last_local_day(end: datetime, tz: ZoneInfo) -> date:
    """The last day in the club that a period ending at ``end`` (exclusive) still covers.

    The inverse of :func:`end_of_local_day`: a lottery staff typed as "until 1405/01/15" ends at
    the midnight after it, and is shown as ending on the 15th, not the 16th.
    """
    return (end - timedelta(microseconds=1)).astimezone(tz).date()
