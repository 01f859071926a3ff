"""Points expiry: lots whose date has passed are closed, a batch of them in a few statements.

Apart from the ledger's movements because it is their bulk twin: the same entries, draws and
balances a :func:`core.ledger.debit` per lot would write, set-based. The lifecycle sweep's
housekeeping runs it (:mod:`core.housekeeping`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Select,
    String,
    Table,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from core import events
from core.ledger import debit, lock_member
from core.models import EntryKind, Id, LedgerEntry, LotDraw, Member, PointsLot, UTCDateTime, utcnow


async def expire_due(session: AsyncSession, now: datetime | None = None, limit: int = 1000) -> int:
    """Close lots whose date has passed with an ``expire`` entry each; returns points expired.

    Up to ``limit`` lots, soonest-expiring first. Each lot gets what a debit of its remaining
    points drawn from that lot would write (key ``expire:<lot>@<now>``): one ``expire`` entry, one
    draw taking the whole lot, the lot closed and the member's balance reduced. It is done for the
    whole batch at once, a handful of set-based statements (INSERT … SELECT, UPDATE … FROM) over a
    temporary table that holds the batch, because a sweep may find millions of lots due.

    Safe to run twice or concurrently: lots are re-read after their members are locked (on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already holds the write lock), and a lot with nothing
    left is skipped. In the unlikely case that a lot's key is already taken (it expired at this
    very ``now``, then got points back), the batch goes lot by lot through :func:`debit`, which
    answers a repeated key as it always has.
    """
    now = now or utcnow()
    batch = _EXPIRING
    await session.execute(CreateTable(batch, if_not_exists=True))
    await session.execute(delete(batch))
    key = literal("expire:") + cast(PointsLot.id, String) + literal(f"@{now.isoformat()}")
    await session.execute(
        insert(batch).from_select(
            ["lot_id", "member_id", "points", "expires_at", "idempotency_key"],
            select(
                PointsLot.id, PointsLot.member_id, PointsLot.remaining, PointsLot.expires_at, key
            )
            .where(PointsLot.expires_at <= now, PointsLot.remaining > 0)
            .order_by(PointsLot.expires_at, PointsLot.id)
            .limit(limit),
        )
    )
    try:
        if session.get_bind().dialect.name != "sqlite":
            await _lock_and_reread(session)
        taken = await session.scalar(
            select(literal(1))
            .select_from(batch)
            .join(LedgerEntry, LedgerEntry.idempotency_key == batch.c.idempotency_key)
            .limit(1)
        )
        expire = _expire_each if taken is not None else _expire_batch
        expired = await expire(session, now)
        await events.emit_rows(session, events.POINTS_EXPIRED, _expired_per_member(), now)
        return expired
    finally:
        await session.execute(delete(batch))


def _expired_per_member() -> Select[Any]:
    """Each member of the batch and the points that expired for them: a ``points.expired``
    event's data."""
    batch = _EXPIRING
    return (
        select(
            batch.c.member_id.label("member"),
            Member.phone.label("phone"),
            cast(func.sum(batch.c.points), BigInteger).label("points"),  # not a Decimal
        )
        .join(Member, Member.id == batch.c.member_id)
        .group_by(batch.c.member_id, Member.phone)
        .order_by(batch.c.member_id)
    )


async def _lock_and_reread(session: AsyncSession) -> None:
    """Lock the batch's members (in id order, like every movement), then re-read its lots."""
    batch = _EXPIRING
    await session.execute(
        select(Member.id)
        .where(Member.id.in_(select(batch.c.member_id)))
        .order_by(Member.id)
        .with_for_update()
    )
    await session.execute(
        update(batch).values(
            points=select(PointsLot.remaining)
            .where(PointsLot.id == batch.c.lot_id)
            .scalar_subquery()
        )
    )
    await session.execute(delete(batch).where(batch.c.points <= 0))


async def _expire_batch(session: AsyncSession, now: datetime) -> int:
    batch = _EXPIRING
    total = int(await session.scalar(select(func.coalesce(func.sum(batch.c.points), 0))) or 0)
    if not total:
        return 0
    await session.execute(
        insert(LedgerEntry).from_select(
            ["member_id", "delta", "kind", "idempotency_key", "created_at"],
            select(
                batch.c.member_id,
                -batch.c.points,
                literal(EntryKind.EXPIRE.value, String),
                batch.c.idempotency_key,
                literal(now, UTCDateTime()),
            ).order_by(batch.c.member_id, batch.c.expires_at, batch.c.lot_id),
        )
    )
    await session.execute(
        insert(LotDraw).from_select(
            ["entry_id", "lot_id", "points"],
            select(LedgerEntry.id, batch.c.lot_id, batch.c.points)
            .select_from(batch)
            .join(LedgerEntry, LedgerEntry.idempotency_key == batch.c.idempotency_key)
            .order_by(LedgerEntry.id),
        )
    )
    per_member = (
        select(batch.c.member_id, func.sum(batch.c.points).label("points"))
        .group_by(batch.c.member_id)
        .subquery()
    )
    await session.execute(
        update(Member)
        .where(Member.id == per_member.c.member_id)
        .values(balance=Member.balance - per_member.c.points)
        .execution_options(synchronize_session=False)
    )
    taken = select(batch.c.points).where(batch.c.lot_id == PointsLot.id).scalar_subquery()
    await session.execute(
        update(PointsLot)
        .where(PointsLot.id.in_(select(batch.c.lot_id)))
        .values(remaining=PointsLot.remaining - taken)
        .execution_options(synchronize_session=False)
    )
    # Members this session already holds see their new balance, as after a per-lot debit.
    loaded = [obj.id for obj in session.identity_map.values() if isinstance(obj, Member)]
    if loaded:
        await session.execute(
            select(Member)
            .where(Member.id.in_(loaded), Member.id.in_(select(batch.c.member_id)))
            .execution_options(populate_existing=True)
        )
    return total


async def _expire_each(session: AsyncSession, now: datetime) -> int:
    """The batch lot by lot, each a :func:`debit` of what is left in it under its member's lock."""
    batch = _EXPIRING
    due = await session.execute(
        select(batch.c.lot_id, batch.c.member_id).order_by(batch.c.expires_at, batch.c.lot_id)
    )
    expired = 0
    for lot_id, member_id in due.all():
        await lock_member(session, member_id)
        remaining = await session.scalar(select(PointsLot.remaining).where(PointsLot.id == lot_id))
        if not remaining:
            continue
        await debit(
            session,
            member_id,
            remaining,
            EntryKind.EXPIRE,
            f"expire:{lot_id}@{now.isoformat()}",
            now=now,
            first_lot_id=lot_id,
        )
        expired += remaining
    return expired


# The lots one expiry batch closes: a temporary table, private to the connection (on PostgreSQL
# dropped at commit), so every statement of the batch works on the same lots.
_EXPIRING = Table(
    "expiring_lots",
    MetaData(),
    Column("lot_id", Id, primary_key=True),
    Column("member_id", Id, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("idempotency_key", String(128), nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
