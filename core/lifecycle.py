"""Lifecycle: the messages a member's own story calls for, chosen in SQL.

A periodic sweep first does the housekeeping (:mod:`core.housekeeping`), then asks each selector
below for the members who are owed a message now: points that became usable, a tier change, a
downgrade warning, points about to expire, a birthday, a win-back offer, a code about to lapse, a
friend who joined through the member's link and the bonus that friend's first purchase brought.
Every message has a dedupe key that names the moment (``tier:<change>``,
``birthday:<member>:<year>``, ...), and every selector leaves out the members whose key is already
in the outbox, so a second sweep, or two at once, writes nothing new.

Selectors are set-based: one query per page of members, never a loop over the whole club. They
page by an increasing id (``after``), so a sweep always ends even when a candidate is not written.
Only members the bot can reach (:func:`core.reachability.reachable_sql`) are selected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import club_calendar, ledger, messaging, referrals, segments, tiers
from core.clock import after_days, end_of_local_day
from core.codes import format_redemption_code
from core.lots import expiring_per_member
from core.models import (
    Delivery,
    EntryKind,
    LedgerEntry,
    Member,
    PointsLot,
    Purchase,
    PurchaseStatus,
    Redemption,
    RedemptionStatus,
    Referral,
    ReferralStatus,
    Reward,
    TierChange,
)
from core.reachability import reachable_sql
from core.rules import Rules

LIFECYCLE = "lifecycle"
PAGE = 500
TIER_CHANGE_DAYS = 3  # a tier change older than this is old news
REFERRAL_NEWS = timedelta(days=3)  # a friend's joining (or bonus) older than this is old news
ACTIVATION_NEWS_DAYS = 7  # points usable for longer than this are not announced any more
EXPIRY_NOTICES = (30, 7)  # days before points expire that a member is told
CODE_WARN = timedelta(days=2)
BIRTHDAY_GIFT_AFTER = timedelta(days=30)  # a member this new is greeted on their birthday, no gift
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Notice:
    """One message a member is owed: the template topic, its values, and the moment's key."""

    member: Member
    topic: str  # the template under ``lifecycle/``
    dedupe_key: str
    values: dict[str, Any] = field(default_factory=dict)
    kind: str = LIFECYCLE  # or ``messaging.OFFER`` for the win-back offer


@dataclass(frozen=True)
class Page:
    notices: list[Notice]
    after: int | None  # where the next page starts; None when this was the last


Selector = Callable[[AsyncSession, Rules, datetime, ZoneInfo, int, int], Awaitable[Page]]


# --- selectors ------------------------------------------------------------------------------


async def tier_changes(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """Tier changes of the last few days: ``tier_up`` or ``tier_down``, key ``tier:<id>``.

    An upgrade by a purchase is mentioned in the purchase message too; this one says what the
    new tier brings (its extra points and the next step), so both are sent.
    """
    key = _key("tier:", TierChange.id)
    rows = (
        await session.execute(
            select(TierChange, Member)
            .join(Member, Member.id == TierChange.member_id)
            .where(
                TierChange.id > after,
                TierChange.created_at > now - timedelta(days=TIER_CHANGE_DAYS),
                reachable_sql(),
                _not_written(key),
            )
            .order_by(TierChange.id)
            .limit(limit)
        )
    ).all()
    notices = []
    for change, member in rows:
        old_rank, new_rank = rules.tier_rank(change.old_tier), rules.tier_rank(change.new_tier)
        if old_rank == new_rank:  # a tier the rules no longer have, mapped onto its neighbour
            continue
        notices.append(
            Notice(
                member,
                "tier_up" if new_rank > old_rank else "tier_down",
                f"tier:{change.id}",
                {
                    "tier": change.new_tier,
                    "old_tier": change.old_tier,
                    "qualifying": change.qualifying_points,
                    "extra_percent": extra_percent(rules, change.new_tier),
                    **_next_tier(rules, change.new_tier, change.qualifying_points),
                },
            )
        )
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def tier_warnings(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """Members warned at this month's evaluation: how many qualifying points keep their tier.

    The points are counted as the next evaluation will count them, at the start of next month,
    so purchases that leave the rolling window before then are already left out.
    """
    period = tiers.evaluation_period(now, tz, rules.calendar)
    last_day = club_calendar.last_day_of_month(now.astimezone(tz).date(), rules.calendar)
    evaluation_at = end_of_local_day(last_day, tz)  # the next month's evaluation
    cutoff = tiers.qualifying_cutoff(rules, evaluation_at)
    points = tiers.qualifying_points_query(Member.id, cutoff).scalar_subquery()
    threshold = case({t.key: t.threshold for t in rules.tiers}, value=Member.tier, else_=0)
    key = _key("tierwarn:", Member.id, f":{period}")
    rows = (
        await session.execute(
            select(Member, threshold - points)
            .where(
                Member.id > after,
                Member.tier_warning == period,
                points < threshold,
                reachable_sql(),
                _not_written(key),
            )
            .order_by(Member.id)
            .limit(limit)
        )
    ).all()
    notices = [
        Notice(
            member,
            "tier_warning",
            f"tierwarn:{member.id}:{period}",
            {"tier": member.tier, "needed": int(needed), "keep_until": last_day},
        )
        for member, needed in rows
    ]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def expiring_30(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    return await expiring(session, now, tz, 30, after, limit)


async def expiring_7(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    return await expiring(session, now, tz, 7, after, limit)


async def expiring(
    session: AsyncSession, now: datetime, tz: ZoneInfo, days: int, after: int, limit: int
) -> Page:
    """Members with points expiring within ``days``: the points and the earliest date.

    Key ``expiring<days>:<member>:<date of the earliest lot>``, so each lot that comes up first is
    announced once per notice. A member whose first lot is already inside the next, shorter notice
    gets only that one, not two messages on the same day.
    """
    shorter = [d for d in EXPIRY_NOTICES if d < days]
    lots = expiring_per_member(now, timedelta(days=days))
    if shorter:
        lots = lots.having(func.min(PointsLot.expires_at) > now + timedelta(days=max(shorter)))
    lots_sq = lots.subquery()
    rows = (
        await session.execute(
            select(Member, lots_sq.c.first, lots_sq.c.points)
            .join(lots_sq, lots_sq.c.member_id == Member.id)
            .where(Member.id > after, reachable_sql())
            .order_by(Member.id)
            .limit(limit)
        )
    ).all()
    candidates = [
        Notice(
            member,
            "expiring",
            f"expiring{days}:{member.id}:{first.astimezone(tz).date().isoformat()}",
            {"points": int(points), "expires_at": first, "within_days": days},
        )
        for member, first, points in rows
    ]
    written = await written_keys(session, [n.dedupe_key for n in candidates])
    notices = [n for n in candidates if n.dedupe_key not in written]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def birthday_gifts(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """Members whose birthday is today in the club's calendar (the rules' ``calendar``,
    :mod:`core.club_calendar`): credit the gift, return their greeting.

    The credit's idempotency key and the message's dedupe key are both
    ``birthday:<member>:<year>`` (the year of the club's calendar); written in the caller's one
    transaction, a gift is never given twice nor given without its greeting.

    A birthday that is today or later is a typing mistake, not an anniversary: no greeting, no
    gift. A member in their first :data:`BIRTHDAY_GIFT_AFTER` is greeted without a gift, so a
    birthday typed at joining as "this week" earns nothing.
    """
    today = now.astimezone(tz).date()
    year = club_calendar.year_of(today, rules.calendar)
    key = _key("birthday:", Member.id, f":{year}")
    birthdays = [
        and_(extract("month", Member.birthday) == m, extract("day", Member.birthday) == d)
        for m, d in club_calendar.birthday_candidates(today, rules.calendar)
    ]
    rows = (
        await session.execute(
            select(Member, Member.joined_at <= now - BIRTHDAY_GIFT_AFTER)
            .where(
                Member.id > after,
                Member.birthday.is_not(None),
                Member.birthday < today,
                or_(*birthdays),
                reachable_sql(),
                _not_written(key),
            )
            .order_by(Member.id)
            .limit(limit)
        )
    ).all()
    notices = []
    for member, gift_due in rows:
        if not club_calendar.celebrates(member.birthday, today, rules.calendar):
            continue  # a neighbouring day the SQL let through: not this member's day
        dedupe_key = f"birthday:{member.id}:{year}"
        bonus = rules.messaging.birthday_bonus if gift_due else 0
        if bonus:
            await ledger.credit(
                session,
                member.id,
                bonus,
                EntryKind.BONUS,
                dedupe_key,
                expires_at=after_days(now, rules.expiry.days),
                reason="birthday",
                now=now,
            )
        notices.append(Notice(member, "birthday", dedupe_key, {"bonus": bonus}))
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def winback(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """The win-back offer to members at risk of churning, at most once per ``churn_days``.

    An offer, not a service message: only members with offers on and under their frequency cap
    (:func:`core.messaging.under_cap`). The key names the ``churn_days`` period the offer belongs
    to; a member offered one just before a period ended is not offered another just after it.
    """
    churn_days = rules.messaging.churn_days
    bucket = (now.astimezone(tz).date() - _EPOCH).days // churn_days
    key = _key("winback:", Member.id, f":{bucket}")
    offered_lately = exists().where(
        Delivery.member_id == Member.id,
        Delivery.kind == messaging.OFFER,
        Delivery.dedupe_key.like("winback:%"),
        Delivery.created_at > now - timedelta(days=churn_days),
    )
    members = list(
        await session.scalars(
            select(Member)
            .where(
                Member.id > after,
                Member.id.in_(at_risk(rules, now)),
                messaging.may_receive_offers(),
                messaging.under_cap(rules, now),
                ~offered_lately,
                _not_written(key),
            )
            .order_by(Member.id)
            .limit(limit)
        )
    )
    notices = [
        Notice(member, "winback", f"winback:{member.id}:{bucket}", kind=messaging.OFFER)
        for member in members
    ]
    return Page(notices, _next(members, limit, lambda member: member.id))


async def codes_expiring(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """Reserved codes that lapse within two days: a reminder, key ``codeexp:<redemption>``."""
    key = _key("codeexp:", Redemption.id)
    rows = (
        await session.execute(
            select(Redemption, Reward, Member)
            .join(Reward, Reward.id == Redemption.reward_id)
            .join(Member, Member.id == Redemption.member_id)
            .where(
                Redemption.id > after,
                Redemption.status == RedemptionStatus.RESERVED,
                Redemption.expires_at > now,
                Redemption.expires_at <= now + CODE_WARN,
                reachable_sql(),
                _not_written(key),
            )
            .order_by(Redemption.id)
            .limit(limit)
        )
    ).all()
    notices = [
        Notice(
            member,
            "code_expiring",
            f"codeexp:{redemption.id}",
            {
                "reward": reward,
                "code": format_redemption_code(redemption.code),
                "expires_at": redemption.expires_at,
            },
        )
        for redemption, reward, member in rows
    ]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def points_activated(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """Purchases whose pending points became usable lately: key ``activated:<purchase>``."""
    key = _key("activated:", Purchase.id)
    rows = (
        await session.execute(
            select(Purchase, Member)
            .join(Member, Member.id == Purchase.member_id)
            .where(
                Purchase.id > after,
                Purchase.status == PurchaseStatus.COMPLETED,
                Purchase.points > 0,
                Purchase.available_at <= now,
                Purchase.available_at > now - timedelta(days=ACTIVATION_NEWS_DAYS),
                reachable_sql(),
                _not_written(key),
            )
            .order_by(Purchase.id)
            .limit(limit)
        )
    ).all()
    notices = [
        Notice(
            member,
            "points_activated",
            f"activated:{purchase.id}",
            {"points": purchase.points, "purchase": purchase, "balance": member.balance},
        )
        for purchase, member in rows
    ]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def friends_joined(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """A friend joined through the member's link lately: ``friend_joined``, key
    ``refjoin:<referral>``, with what the friend's first purchase will bring the member."""
    rows = await _referral_news(
        session, "refjoin:", after, limit, Referral.created_at > now - REFERRAL_NEWS
    )
    notices = [
        Notice(
            member,
            "friend_joined",
            f"refjoin:{referral.id}",
            {"friend": name, "referral": rules.referral},
        )
        for referral, member, name in rows
    ]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def referral_bonuses(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo, after: int, limit: int
) -> Page:
    """A friend's first purchase brought the member their bonus lately: ``referral_bonus``, key
    ``refbonus:<referral>``, with the points the ledger credited. A bonus taken back meanwhile (the
    purchase refunded) is not announced."""
    bonus_key = _key(referrals.REFERRER_BONUS_KEY, Referral.id)
    rows = await _referral_news(
        session, "refbonus:", after, limit,
        Referral.status == ReferralStatus.REWARDED,
        Referral.rewarded_at > now - REFERRAL_NEWS,
        credit=(LedgerEntry.delta, LedgerEntry.idempotency_key == bonus_key),
    )  # fmt: skip
    notices = [
        Notice(
            member,
            "referral_bonus",
            f"refbonus:{referral.id}",
            {"friend": name, "points": int(points), "balance": member.balance},
        )
        for referral, member, name, points in rows
    ]
    return Page(notices, _next(rows, limit, lambda row: row[0].id))


async def _referral_news(
    session: AsyncSession,
    prefix: str,
    after: int,
    limit: int,
    *recent: ColumnElement[bool],
    credit: tuple[Any, ColumnElement[bool]] | None = None,
) -> list[Any]:
    """A page of referrals the referrer has not been told of under ``prefix`` yet: each with the
    referrer (reachable) and the friend's name, and ``credit``'s column of the ledger entry it
    joins, if given."""
    friend = aliased(Member)
    query = (
        select(Referral, Member, friend.name)
        .join(Member, Member.id == Referral.referrer_id)
        .join(friend, friend.id == Referral.referred_id)
    )
    if credit is not None:
        column, joined = credit
        query = query.add_columns(column).join(LedgerEntry, joined)
    return list(
        (
            await session.execute(
                query.where(
                    Referral.id > after,
                    *recent,
                    reachable_sql(),
                    _not_written(_key(prefix, Referral.id)),
                )
                .order_by(Referral.id)
                .limit(limit)
            )
        ).all()
    )


SELECTORS: tuple[Selector, ...] = (
    points_activated,
    tier_changes,
    tier_warnings,
    expiring_30,
    expiring_7,
    birthday_gifts,
    winback,
    codes_expiring,
    friends_joined,
    referral_bonuses,
)


# --- pure helpers ---------------------------------------------------------------------------


def extra_percent(rules: Rules, tier_key: str) -> int:
    """How many percent more points a purchase earns in this tier than in the base tier."""
    if tier_key not in rules.tier_keys:
        return 0
    return int((rules.tier(tier_key).multiplier - 1) * 100)


def at_risk(rules: Rules, now: datetime) -> Select[tuple[int]]:
    """SQL: ids of members once frequent and now quiet, as the built-in ``at_risk`` segment says."""
    return segments.member_ids(segments.parse("at_risk", rules), now)


async def written_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    """Which of these dedupe keys are already in the outbox."""
    keys = list(keys)
    if not keys:
        return set()
    return set(
        await session.scalars(select(Delivery.dedupe_key).where(Delivery.dedupe_key.in_(keys)))
    )


def _key(prefix: str, column: Any, suffix: str = "") -> ColumnElement[str]:
    """SQL for a dedupe key such as ``tier:<id>``, to look it up in the outbox."""
    expression = literal(prefix, String) + cast(column, String)
    return expression + literal(suffix, String) if suffix else expression


def _not_written(key: ColumnElement[str]) -> ColumnElement[bool]:
    return ~exists().where(Delivery.dedupe_key == key)


def _next(rows: list[Any], limit: int, position: Callable[[Any], int]) -> int | None:
    return position(rows[-1]) if len(rows) == limit else None


def _next_tier(rules: Rules, tier_key: str, qualifying: int) -> dict[str, Any]:
    following = rules.next_tier(tier_key) if tier_key in rules.tier_keys else None
    if following is None:
        return {"next_tier": None, "to_next": 0}
    return {"next_tier": following.key, "to_next": max(following.threshold - qualifying, 0)}
