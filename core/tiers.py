"""Tiers: qualifying points over a rolling window, upgrades at once, downgrades after a warning.

Upgrades happen the moment a purchase crosses a threshold. Downgrades wait for the monthly
evaluation (the months of the rules' ``calendar``, Jalali by default: it runs on the first of
Farvardin, Ordibehesht, ...) and need one evaluation of warning first, so a member who has a quiet
month is told and has a month to come back before losing benefits. The evaluation is set-based SQL
(a handful of statements for the whole club, never a loop over members) and keyed by period, so
running it twice in a month changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from core import club_calendar, events
from core.models import (
    Id,
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    TierChange,
    TierEvaluation,
    UTCDateTime,
)
from core.rules import ClubCalendar, Rules


def qualifying_cutoff(rules: Rules, now: datetime) -> datetime:
    """Purchases strictly after this moment count towards the tier."""
    return now - timedelta(days=rules.tier_policy.qualifying_window_days)


def _qualifying(cutoff: Any) -> ColumnElement[bool]:
    """SQL: a purchase whose points qualify, the one definition every query below uses."""
    return and_(Purchase.status == PurchaseStatus.COMPLETED, Purchase.created_at > cutoff)


def qualifying_points_query(member_id: Any, cutoff: Any) -> Select[tuple[int]]:
    """The member's qualifying points as one value. ``member_id`` may be a column (correlated)
    and ``cutoff`` (:func:`qualifying_cutoff`) a bound parameter."""
    return select(func.coalesce(func.sum(Purchase.points), 0)).where(
        Purchase.member_id == member_id, _qualifying(cutoff)
    )


def qualifying_points_per_member(cutoff: Any) -> Select[tuple[int, int]]:
    """``(member_id, points)`` for every member with qualifying points, one grouped pass; narrow
    it with a ``where`` on ``Purchase.member_id``."""
    return (
        select(Purchase.member_id, func.sum(Purchase.points).label("points"))
        .where(_qualifying(cutoff))
        .group_by(Purchase.member_id)
    )


async def qualifying_points(
    session: AsyncSession, rules: Rules, member_id: int, now: datetime
) -> int:
    cutoff = qualifying_cutoff(rules, now)
    total = await session.scalar(qualifying_points_query(member_id, cutoff))
    return int(total or 0)


async def upgrade_if_reached(
    session: AsyncSession, rules: Rules, member: Member, now: datetime
) -> TierChange | None:
    """Move the member up as soon as their qualifying points reach a higher tier."""
    if rules.next_tier(member.tier) is None:
        return None  # at the top already: no sum of the window to read
    points = await qualifying_points(session, rules, member.id, now)
    reached = rules.tier_for(points)
    if rules.tier_rank(reached.key) <= rules.tier_rank(member.tier):
        return None
    change = TierChange(
        member_id=member.id,
        old_tier=member.tier,
        new_tier=reached.key,
        qualifying_points=points,
        reason="purchase",
        created_at=now,
    )
    member.tier = reached.key
    member.tier_warning = None
    session.add(change)
    await session.flush()
    await events.emit(session, events.TIER_CHANGED, events.tier(member, change), now)
    return change


def evaluation_period(now: datetime, tz: ZoneInfo, calendar: ClubCalendar) -> str:
    """The month an evaluation belongs to: the club's month (the rules' ``calendar``, in its time
    zone), ``1405-09`` in the Jalali calendar, ``2026-11`` in the Gregorian."""
    return club_calendar.month_key(now.astimezone(tz).date(), calendar)


@dataclass(frozen=True)
class _TierSql:
    """SQL expressions for one member row: qualifying points, target tier and both ranks."""

    points: ColumnElement[int]
    target: ColumnElement[str]
    target_rank: ColumnElement[int]
    current_rank: ColumnElement[int]

    @classmethod
    def build(cls, rules: Rules, points: ColumnElement[int]) -> _TierSql:
        ladder = list(enumerate(rules.tiers))[::-1]
        return cls(
            points=points,
            target=case(
                *[(points >= t.threshold, t.key) for _, t in ladder], else_=rules.base_tier
            ),
            target_rank=case(*[(points >= t.threshold, rank) for rank, t in ladder], else_=0),
            current_rank=case(
                # A tier the rules no longer have ranks below all: the evaluation moves it.
                {t.key: rank for rank, t in enumerate(rules.tiers)},
                value=Member.tier,
                else_=-1,
            ),
        )


class _Move(StrEnum):
    UP = "up"
    DOWN = "down"
    WARN = "warn"
    CLEAR = "clear"


# What the evaluation does to each member, decided in one pass over the club: a temporary
# table private to the connection (on PostgreSQL dropped at commit).
_MOVES = Table(
    "tier_moves",
    MetaData(),
    Column("member_id", Id, primary_key=True),
    Column("old_tier", String(32), nullable=False),
    Column("new_tier", String(32), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("move", String(8), nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)


async def evaluate_all(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo
) -> TierEvaluation:
    """The monthly evaluation for every member; a second run in the same period is a no-op.

    Counted (not erased) members move up to the tier their qualifying points reach, or down to it
    if they were warned in an earlier period; a counted member below their tier and not warned
    yet is warned now; a warning is cleared for any member no longer below their tier. The points
    are summed once per member (one grouped pass over the window's purchases), each member's
    outcome is written to a temporary table, and the changes are applied from there.
    """
    period = evaluation_period(now, tz, rules.calendar)
    existing = await session.get(TierEvaluation, period)
    if existing is not None:
        return existing
    evaluation = TierEvaluation(period=period, ran_at=now)
    try:
        async with session.begin_nested():
            session.add(evaluation)
            await session.flush()
    except IntegrityError:
        # Another process is evaluating the same period; its run is the one that counts.
        return await session.get(TierEvaluation, period, populate_existing=True)

    qualifying = qualifying_points_per_member(qualifying_cutoff(rules, now)).subquery()
    sql = _TierSql.build(rules, func.coalesce(qualifying.c.points, 0))
    counted = Member.status != MemberStatus.ERASED
    below = sql.target_rank < sql.current_rank
    move = case(
        (and_(counted, sql.target_rank > sql.current_rank), _Move.UP.value),
        (
            and_(counted, below, Member.tier_warning.is_not(None), Member.tier_warning != period),
            _Move.DOWN.value,
        ),
        (and_(counted, below, Member.tier_warning.is_(None)), _Move.WARN.value),
        (and_(~below, Member.tier_warning.is_not(None)), _Move.CLEAR.value),
    )
    moves = _MOVES
    await session.execute(CreateTable(moves, if_not_exists=True))
    await session.execute(delete(moves))
    await session.execute(
        insert(moves).from_select(
            ["member_id", "old_tier", "new_tier", "points", "move"],
            select(Member.id, Member.tier, sql.target, sql.points, move)
            .select_from(Member)
            .outerjoin(qualifying, qualifying.c.member_id == Member.id)
            .where(move.is_not(None)),
        )
    )
    counts = dict(
        (await session.execute(select(moves.c.move, func.count()).group_by(moves.c.move))).all()
    )
    evaluation.upgraded = int(counts.get(_Move.UP.value, 0))
    evaluation.downgraded = int(counts.get(_Move.DOWN.value, 0))
    evaluation.warned = int(counts.get(_Move.WARN.value, 0))
    moved = moves.c.move.in_([_Move.UP.value, _Move.DOWN.value])
    await session.execute(
        insert(TierChange).from_select(
            ["member_id", "old_tier", "new_tier", "qualifying_points", "reason", "created_at"],
            select(
                moves.c.member_id,
                moves.c.old_tier,
                moves.c.new_tier,
                moves.c.points,
                literal("evaluation"),
                literal(now, UTCDateTime()),
            )
            .where(moved)
            .order_by(moves.c.member_id),
        )
    )
    new_tier = select(moves.c.new_tier).where(moves.c.member_id == Member.id).scalar_subquery()
    await _update(session, _among(moved), tier=new_tier, tier_warning=None)
    await _update(session, _among(moves.c.move == _Move.WARN.value), tier_warning=period)
    await _update(session, _among(moves.c.move == _Move.CLEAR.value), tier_warning=None)
    await events.emit_rows(session, events.TIER_CHANGED, _changed(moved), now)
    await session.execute(delete(moves))
    await session.flush()
    return evaluation


def _changed(moved: ColumnElement[bool]) -> Select[Any]:
    """Each member the evaluation moved, as the data of their ``tier.changed`` event."""
    return (
        select(
            _MOVES.c.member_id.label("member"),
            Member.phone.label("phone"),
            _MOVES.c.old_tier.label("from"),
            _MOVES.c.new_tier.label("to"),
            literal("evaluation").label("reason"),
        )
        .join(Member, Member.id == _MOVES.c.member_id)
        .where(moved)
        .order_by(_MOVES.c.member_id)
    )


def _among(which: ColumnElement[bool]) -> ColumnElement[bool]:
    return Member.id.in_(select(_MOVES.c.member_id).where(which))


async def _update(session: AsyncSession, where: ColumnElement[bool], **values: object) -> None:
    await session.execute(
        update(Member).where(where).values(**values).execution_options(synchronize_session=False)
    )
