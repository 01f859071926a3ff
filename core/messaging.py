"""When a member may be messaged: their quiet hours, their frequency cap, their switches.

Quiet hours are the member's own, else the club's, in the club's time zone; a message due during
them waits for the morning rather than being dropped. The cap counts offers already written to the
outbox in the last seven days, sent or still waiting, so two campaigns on one day respect it too.

The member's own answer to the profile's "how often would you like special offers?" is a least
interval between two offers on top of that cap (:data:`OFFER_INTERVALS`): "once a week" is one
offer in any seven days, "once a month" one in thirty, "only very special offers" one in ninety. A
member who did not answer gets the club's weekly cap alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from core import reachability
from core.models import Delivery, DeliveryStatus, Member
from core.rules import Rules

OFFER = "offer"
CAP_WINDOW = timedelta(days=7)
#: The profile's ``frequency`` answers (:data:`core.profile.PROFILE_SECTIONS`) as the least time
#: between two offers to that member.
OFFER_INTERVALS: Final = {
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
    "rarely": timedelta(days=90),
}
_COUNTED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT)


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
        .where(_offer_of_member(), Delivery.created_at > now - CAP_WINDOW)
        .scalar_subquery()
    )


def spaced_as_asked(now: datetime) -> ColumnElement[bool]:
    """SQL: the member's last offer is at least as old as their profile answer asks
    (:data:`OFFER_INTERVALS`); true for a member who gave none."""
    frequency = func.coalesce(Member.profile["frequency"].as_string(), "")
    return and_(
        *(
            or_(
                frequency != answer,
                ~exists().where(_offer_of_member(), Delivery.created_at > now - interval),
            )
            for answer, interval in OFFER_INTERVALS.items()
        )
    )


def under_cap(rules: Rules, now: datetime) -> ColumnElement[bool]:
    """SQL: the member may get one more offer now: under their weekly cap, and spaced from the
    last one as they asked (:func:`spaced_as_asked`)."""
    cap = func.coalesce(Member.max_offers_per_week, rules.messaging.offers_per_week)
    return and_(offers_in_window(now) < cap, spaced_as_asked(now))


def _offer_of_member() -> ColumnElement[bool]:
    """SQL: an offer to the member of the outer query, sent or still on its way."""
    return and_(
        Delivery.member_id == Member.id,
        Delivery.kind == OFFER,
        Delivery.status.in_(_COUNTED),
    )
