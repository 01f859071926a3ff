"""A member's points lots: which lots a debit draws, how a refund puts points back, which expire.

The ledger (:mod:`core.ledger`) writes the entry and the balance; this module moves the points
between the lots of that entry, under the member's lock the ledger already holds. Which lots
count as "expiring" is defined here once (:func:`expiring_window`), for ``/points``, the expiry
notices of the lifecycle sweep and the campaigns' ``expiring_points``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import EntryKind, LedgerEntry, LotDraw, Member, PointsLot

#: What "points expiring soon" means to a member: in /points and in a campaign's text.
EXPIRING_SOON = timedelta(days=30)
#: The horizons of the club's expiry forecast in /stats, in days.
FORECAST_DAYS = (30, 60, 90)


def expiring_window(after: Any, until: Any) -> ColumnElement[bool]:
    """A lot with points left that expires after ``after``, by ``until`` (values, or columns and
    bound parameters)."""
    return and_(
        PointsLot.remaining > 0,
        PointsLot.expires_at > after,
        PointsLot.expires_at <= until,
    )


def expiring_lot(member_id: Any, after: Any, until: Any) -> ColumnElement[bool]:
    """A lot of ``member_id`` in :func:`expiring_window`."""
    return and_(PointsLot.member_id == member_id, expiring_window(after, until))


def expiring_per_member(now: datetime, within: timedelta) -> Select[tuple[int, datetime, int]]:
    """``(member_id, first, points)``: for each member with lots expiring within ``within``, the
    soonest date and the points, one grouped pass; narrow it with ``where`` or ``having``."""
    return (
        select(
            PointsLot.member_id,
            func.min(PointsLot.expires_at).label("first"),
            func.sum(PointsLot.remaining).label("points"),
        )
        .where(expiring_window(now, now + within))
        .group_by(PointsLot.member_id)
    )


class Expiring(NamedTuple):
    days: int
    points: int  # in every member's lots expiring after now and within ``days`` days


async def forecast(
    session: AsyncSession, now: datetime, horizons: Sequence[int] = FORECAST_DAYS
) -> list[Expiring]:
    """The club's points that will expire within each horizon unless spent first (each horizon
    includes the shorter ones), in one pass over the open lots in :func:`expiring_window`."""
    sums = [
        func.coalesce(
            func.sum(
                case((PointsLot.expires_at <= now + timedelta(days=days), PointsLot.remaining),
                     else_=0)
            ),
            0,
        )
        for days in horizons
    ]  # fmt: skip
    longest = now + timedelta(days=max(horizons))
    row = (await session.execute(select(*sums).where(expiring_window(now, longest)))).one()
    return [Expiring(days, int(points)) for days, points in zip(horizons, row, strict=True)]


async def draw(session: AsyncSession, entry: LedgerEntry, first_lot_id: int | None) -> None:
    """Take a debit's points from the member's lots, soonest-expiring first (``first_lot_id``
    before all), and record each draw so a refund can put them back where they came from."""
    needed = -entry.delta
    first = case((PointsLot.id == first_lot_id, 0), else_=1)
    rows = await session.execute(
        select(PointsLot.id, PointsLot.remaining)
        .where(PointsLot.member_id == entry.member_id, PointsLot.remaining > 0)
        .order_by(first, PointsLot.expires_at, PointsLot.id)
    )
    for lot_id, remaining in rows.all():
        take = min(remaining, needed)
        await session.execute(
            update(PointsLot)
            .where(PointsLot.id == lot_id)
            .values(remaining=PointsLot.remaining - take)
            .execution_options(synchronize_session=False)
        )
        session.add(LotDraw(entry_id=entry.id, lot_id=lot_id, points=take))
        needed -= take
        if needed == 0:
            return
    # The balance said there were enough points but the lots disagree: never paper over that.
    raise RuntimeError(f"ledger invariant broken for member {entry.member_id}")


async def restore(session: AsyncSession, member: Member, entry: LedgerEntry, debit_id: int) -> None:
    """Put a debit's draws back in their lots; a lot that owes points pays them off first."""
    draws = await session.execute(
        select(LotDraw.lot_id, LotDraw.points, PointsLot.owed, PointsLot.entry_id)
        .join(PointsLot, PointsLot.id == LotDraw.lot_id)
        .where(LotDraw.entry_id == debit_id)
    )
    for lot_id, points, lot_owed, credit_id in draws.all():
        await session.execute(
            update(PointsLot)
            .where(PointsLot.id == lot_id)
            .values(remaining=PointsLot.remaining + points)
            .execution_options(synchronize_session=False)
        )
        if lot_owed:
            await _pay_off(session, member, entry, lot_id, credit_id, min(points, lot_owed))


async def _pay_off(
    session: AsyncSession,
    member: Member,
    cause: LedgerEntry,
    lot_id: int,
    credit_id: int,
    points: int,
) -> None:
    """Take back ``points`` just restored into a lot whose credit was reversed short.

    Written as the reversal the credit could not make at the time: a ``reversal`` entry of the
    credit, drawn from its own lot, in the same savepoint as the restore that ``cause`` made.
    """
    payoff = LedgerEntry(
        member_id=member.id,
        delta=-points,
        kind=EntryKind.REVERSAL,
        idempotency_key=f"owed:{lot_id}:{cause.id}",
        reason="owed",
        reverses_id=credit_id,
        created_at=cause.created_at,
    )
    session.add(payoff)
    await session.flush()
    member.balance -= points
    await session.execute(
        update(PointsLot)
        .where(PointsLot.id == lot_id)
        .values(remaining=PointsLot.remaining - points, owed=PointsLot.owed - points)
        .execution_options(synchronize_session=False)
    )
    session.add(LotDraw(entry_id=payoff.id, lot_id=lot_id, points=points))
