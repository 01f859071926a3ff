"""When a member may be messaged: their quiet hours, their frequency cap, their switches.

Quiet hours are the member's own, else the club's, in the club's time zone; a message due during
them waits for the morning rather than being dropped. The cap counts offers already written to the
outbox in the last seven days, sent or still waiting, so two campaigns on one day respect it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select

from core import reachability
from core.models import Delivery, DeliveryStatus, Member
from core.rules import Rules

OFFER = "offer"
CAP_WINDOW = timedelta(days=7)


def quiet_hours(member: Member, rules: Rules) -> tuple[int, int]:
    if member.quiet_start is not None and member.quiet_end is not None:
        return member.quiet_start, member.quiet_end
    return rules.messaging.quiet_start, rules.messaging.quiet_end


def _in_window(hour: int, start: int, end: int) -> bool:
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def send_after(member: Member, rules: Rules, now: datetime, tz: ZoneInfo) -> datetime:
    """``now``, or the end of the member's quiet hours if ``now`` falls inside them."""
    start, end = quiet_hours(member, rules)
    local = now.astimezone(tz)
    if not _in_window(local.hour, start, end):
        return now
    morning = local.replace(hour=end, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning += timedelta(days=1)
    return morning.astimezone(now.tzinfo)


def cap_of(member: Member, rules: Rules) -> int:
    return (
        member.max_offers_per_week
        if member.max_offers_per_week is not None
        else rules.messaging.offers_per_week
    )


def may_receive_offers() -> ColumnElement[bool]:
    """SQL: members who can get an offer at all: reachable (:mod:`core.reachability`), offers on."""
    return and_(reachability.reachable_sql(), Member.offers_enabled.is_(True))


def offers_in_window(now: datetime) -> ColumnElement[int]:
    """SQL: per member (correlated), offers written to the outbox in the last seven days."""
    return (
        select(func.count())
        .where(
            Delivery.member_id == Member.id,
            Delivery.kind == OFFER,
            Delivery.created_at > now - CAP_WINDOW,
            Delivery.status.in_(
                [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT]
            ),
        )
        .scalar_subquery()
    )


def under_cap(rules: Rules, now: datetime) -> ColumnElement[bool]:
    cap = func.coalesce(Member.max_offers_per_week, rules.messaging.offers_per_week)
    return offers_in_window(now) < cap
