"""Time helpers: the database speaks UTC; people and calendars speak the club's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.models import utcnow

__all__ = ["after_days", "utcnow"]


def after_days(moment: datetime, days: int) -> datetime:
    """``moment`` plus whole days; expiry "365 days after" means exactly that many 24-hour days."""
    return moment.astimezone(UTC) + timedelta(days=days)
