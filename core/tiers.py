"""Tiers: qualifying points over a rolling window, upgrades at once, downgrades after a warning.

Upgrades happen the moment a purchase crosses a threshold. Downgrades wait for the monthly
evaluation and need one evaluation of warning first, so a member who has a quiet month is told
and has a month to come back before losing benefits. The evaluation is set-based SQL (a handful of
statements for the whole club, never a loop over members) and keyed by period, so running it twice
in a month changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    TierChange,
    TierEvaluation,
    UTCDateTime,
)
from core.rules import Rules


def qualifying_cutoff(rules: Rules, now: datetime) -> datetime:
    """Purchases strictly after this moment count towards the tier."""
    return now - timedelta(days=rules.tier_policy.qualifying_window_days)


async def qualifying_points(
    session: AsyncSession, rules: Rules, member_id: int, now: datetime
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(Purchase.points), 0)).where(
            Purchase.member_id == member_id,
            Purchase.status == PurchaseStatus.COMPLETED,
            Purchase.created_at > qualifying_cutoff(rules, now),
        )
    )
    return int(total or 0)


async def upgrade_if_reached(
    session: AsyncSession, rules: Rules, member: Member, now: datetime
) -> TierChange | None:
    """Move the member up as soon as their qualifying points reach a higher tier."""
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
    return change


def evaluation_period(now: datetime, tz: ZoneInfo) -> str:
    """The month an evaluation belongs to, in the club's own calendar month (``2026-11``)."""
    return now.astimezone(tz).strftime("%Y-%m")


@dataclass(frozen=True)
class _TierSql:
    """SQL expressions for one member row: qualifying points, target tier and both ranks."""

    points: ColumnElement[int]
    target: ColumnElement[str]
    target_rank: ColumnElement[int]
    current_rank: ColumnElement[int]

    @classmethod
    def build(cls, rules: Rules, now: datetime) -> _TierSql:
        points = (
            select(func.coalesce(func.sum(Purchase.points), 0))
            .where(
                Purchase.member_id == Member.id,
                Purchase.status == PurchaseStatus.COMPLETED,
                Purchase.created_at > qualifying_cutoff(rules, now),
            )
            .scalar_subquery()
        )
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


async def evaluate_all(
    session: AsyncSession, rules: Rules, now: datetime, tz: ZoneInfo
) -> TierEvaluation:
    """The monthly evaluation for every member; a second run in the same period is a no-op."""
    period = evaluation_period(now, tz)
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

    sql = _TierSql.build(rules, now)
    counted = Member.status != MemberStatus.ERASED
    upgrade = sql.target_rank > sql.current_rank
    below = sql.target_rank < sql.current_rank
    downgrade = and_(below, Member.tier_warning.is_not(None), Member.tier_warning != period)
    moves = and_(counted, or_(upgrade, downgrade))

    evaluation.upgraded = await _count(session, and_(counted, upgrade))
    evaluation.downgraded = await _count(session, and_(counted, downgrade))
    await session.execute(
        insert(TierChange).from_select(
            ["member_id", "old_tier", "new_tier", "qualifying_points", "reason", "created_at"],
            select(
                Member.id,
                Member.tier,
                sql.target,
                sql.points,
                literal("evaluation"),
                literal(now, UTCDateTime()),
            ).where(moves),
        )
    )
    await _update(session, moves, tier=sql.target, tier_warning=None)
    warn = and_(counted, below, Member.tier_warning.is_(None))
    evaluation.warned = await _count(session, warn)
    await _update(session, warn, tier_warning=period)
    await _update(session, and_(~below, Member.tier_warning.is_not(None)), tier_warning=None)
    await session.flush()
    return evaluation


async def _count(session: AsyncSession, where: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count()).select_from(Member).where(where)) or 0)


async def _update(session: AsyncSession, where: ColumnElement[bool], **values: object) -> None:
    await session.execute(
        update(Member).where(where).values(**values).execution_options(synchronize_session=False)
    )
