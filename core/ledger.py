"""The points ledger: every movement is an append-only entry, written with its balance change.

Credits open a :class:`PointsLot` that expires on its own date; debits draw the lots that expire
soonest first and record each draw, so a refund can put points back exactly where they came from.
Each call carries an idempotency key: the same key again returns the first entry and moves nothing.

A reversed credit whose points were already spent records the shortfall on its lot (``owed``).
Whatever later flows back into that lot (a cancelled or expired code, any refund of a debit) pays
that shortfall first, with a ``reversal`` entry, so points a refund took back never come back.

Concurrency: every movement first locks the member's row (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite already serializes writers with ``BEGIN IMMEDIATE``), so the balance check, the entry, the
balance and the lots change as one step per member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
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

from core.errors import IdempotencyConflict, InsufficientPoints, InvalidInput, MemberNotFound
from core.models import (
    EntryKind,
    Id,
    LedgerEntry,
    LotDraw,
    Member,
    PointsLot,
    UTCDateTime,
    utcnow,
)

CREDIT_KINDS = frozenset({EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BONUS, EntryKind.ADJUST})
DEBIT_KINDS = frozenset({EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.ADJUST, EntryKind.REVERSAL})
# Far above any real movement, far below 2**63: a guard against typos and overflow.
MAX_MOVEMENT = 10**12


async def lock_member(session: AsyncSession, member_id: int) -> Member:
    """The member row, locked for this transaction and re-read from the database."""
    member = await session.scalar(
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise MemberNotFound(member_id=member_id)
    return member


async def credit(
    session: AsyncSession,
    member_id: int,
    points: int,
    kind: EntryKind,
    key: str,
    *,
    expires_at: datetime,
    reason: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Add points in a new lot that expires at ``expires_at``."""
    _check_points(points)
    if kind not in CREDIT_KINDS:
        raise ValueError(f"{kind} is not a credit")
    return await _move(
        session,
        LedgerEntry(
            member_id=member_id,
            delta=points,
            kind=kind,
            idempotency_key=key,
            reason=reason,
            actor_id=actor_id,
            created_at=now or utcnow(),
        ),
        expires_at=expires_at,
    )


async def debit(
    session: AsyncSession,
    member_id: int,
    points: int,
    kind: EntryKind,
    key: str,
    *,
    reason: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
    first_lot_id: int | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Take points, soonest-expiring lots first (``first_lot_id`` before all others)."""
    _check_points(points)
    if kind not in DEBIT_KINDS:
        raise ValueError(f"{kind} is not a debit")
    return await _move(
        session,
        LedgerEntry(
            member_id=member_id,
            delta=-points,
            kind=kind,
            idempotency_key=key,
            reason=reason,
            actor_id=actor_id,
            reverses_id=reverses_id,
            created_at=now or utcnow(),
        ),
        first_lot_id=first_lot_id,
    )


async def refund(
    session: AsyncSession,
    debit_id: int,
    *,
    reason: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> LedgerEntry:
    """Give back a debit's points to the lots it drew from. A debit is refunded at most once.

    A lot that expired in the meantime gets its points back too, and the next expiry sweep closes
    it again: a refund restores what was, it does not extend the life of points.
    """
    original = await session.get(LedgerEntry, debit_id)
    if original is None or original.delta >= 0:
        raise ValueError(f"entry {debit_id} is not a debit")
    return await _move(
        session,
        LedgerEntry(
            member_id=original.member_id,
            delta=-original.delta,
            kind=EntryKind.REFUND,
            idempotency_key=f"refund:{debit_id}",
            reason=reason,
            actor_id=actor_id,
            reverses_id=debit_id,
            created_at=now or utcnow(),
        ),
        restore_from=debit_id,
    )


@dataclass(frozen=True)
class Reversal:
    """The outcome of reversing a credit: what came back, and what had already been spent."""

    entry: LedgerEntry | None
    recovered: int
    unrecovered: int


async def reverse(
    session: AsyncSession,
    credit_id: int,
    *,
    reason: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Reversal:
    """Take back a credit's points: its own lot first, then the oldest others.

    The balance never goes negative: if the member already spent some of the points, only what is
    there is taken back, and the rest is reported as ``unrecovered`` and owed by the credit's lot,
    to be paid off by the first points that flow back into it.

    A credit is reversed once: the caller guards that with its own state (a purchase refunded, a
    referral clawed back), checked under the member's lock, because a reversal that found nothing
    to take writes no entry to replay.
    """
    original = await session.get(LedgerEntry, credit_id)
    if original is None or original.delta <= 0:
        raise ValueError(f"entry {credit_id} is not a credit")
    key = f"reverse:{credit_id}"
    replay = await by_key(session, key)
    if replay is not None:
        return Reversal(replay, -replay.delta, original.delta + replay.delta)
    member = await lock_member(session, original.member_id)
    recovered = min(original.delta, member.balance)
    lot_id = await session.scalar(select(PointsLot.id).where(PointsLot.entry_id == credit_id))
    entry = None
    if recovered:
        entry = await debit(
            session,
            original.member_id,
            recovered,
            EntryKind.REVERSAL,
            key,
            reason=reason,
            actor_id=actor_id,
            now=now,
            first_lot_id=lot_id,
            reverses_id=credit_id,
        )
    unrecovered = original.delta - recovered
    if unrecovered:
        await session.execute(
            update(PointsLot)
            .where(PointsLot.id == lot_id)
            .values(owed=PointsLot.owed + unrecovered)
            .execution_options(synchronize_session=False)
        )
    return Reversal(entry, recovered, unrecovered)


async def owed(session: AsyncSession, credit_ids: list[int]) -> dict[int, int]:
    """Points each of these reversed credits still owes (only those owing something)."""
    if not credit_ids:
        return {}
    rows = await session.execute(
        select(PointsLot.entry_id, PointsLot.owed).where(
            PointsLot.entry_id.in_(credit_ids), PointsLot.owed > 0
        )
    )
    return {entry_id: int(points) for entry_id, points in rows.all()}


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
        if taken is not None:
            return await _expire_each(session, now)
        return await _expire_batch(session, now)
    finally:
        await session.execute(delete(batch))


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


def expiring_lot(member_id: Any, after: Any, until: Any) -> ColumnElement[bool]:
    """A lot of ``member_id`` with points left expiring after ``after``, by ``until`` (values,
    or a column and bound parameters)."""
    return and_(
        PointsLot.member_id == member_id,
        PointsLot.remaining > 0,
        PointsLot.expires_at > after,
        PointsLot.expires_at <= until,
    )


async def expiring_points(
    session: AsyncSession, member_id: int, now: datetime, within: timedelta
) -> list[tuple[datetime, int]]:
    """(date, points) of the member's lots that expire within ``within``, soonest first."""
    rows = await session.execute(
        select(PointsLot.expires_at, PointsLot.remaining)
        .where(expiring_lot(member_id, now, now + within))
        .order_by(PointsLot.expires_at)
    )
    return [(expires_at, remaining) for expires_at, remaining in rows.all()]


async def history(
    session: AsyncSession, member_id: int, *, offset: int, limit: int
) -> tuple[list[LedgerEntry], bool]:
    """A page of the member's entries, newest first, and whether an older page exists."""
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    entries = list(rows)
    return entries[:limit], len(entries) > limit


async def ledger_sum(session: AsyncSession, member_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.member_id == member_id
        )
    )
    return int(total or 0)


async def lots_sum(session: AsyncSession, member_id: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member_id
        )
    )
    return int(total or 0)


# --- internals -----------------------------------------------------------------------------


def _check_points(points: int) -> None:
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidInput("not_a_number", repr(points))
    if points <= 0:
        raise InvalidInput("not_positive", repr(points))
    if points > MAX_MOVEMENT:
        raise InvalidInput("too_large", repr(points))


async def by_key(session: AsyncSession, key: str) -> LedgerEntry | None:
    """The entry written under ``key``, if any: a caller can tell a replay from a first time."""
    return await session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))


def _same_operation(existing: LedgerEntry, entry: LedgerEntry) -> LedgerEntry:
    if (existing.member_id, existing.delta, existing.kind) != (
        entry.member_id,
        entry.delta,
        entry.kind,
    ):
        raise IdempotencyConflict(key=entry.idempotency_key)
    return existing


async def _move(
    session: AsyncSession,
    entry: LedgerEntry,
    *,
    expires_at: datetime | None = None,
    first_lot_id: int | None = None,
    restore_from: int | None = None,
) -> LedgerEntry:
    """Write one entry and its balance and lot changes atomically, or replay an earlier one."""
    member = await lock_member(session, entry.member_id)
    existing = await by_key(session, entry.idempotency_key)
    if existing is not None:
        return _same_operation(existing, entry)
    if entry.delta < 0 and member.balance < -entry.delta:
        raise InsufficientPoints(balance=member.balance, needed=-entry.delta)
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
            member.balance += entry.delta
            if expires_at is not None:
                session.add(
                    PointsLot(
                        member_id=entry.member_id,
                        entry_id=entry.id,
                        points=entry.delta,
                        remaining=entry.delta,
                        earned_at=entry.created_at,
                        expires_at=expires_at,
                    )
                )
            elif restore_from is not None:
                await _restore_draws(session, member, entry, restore_from)
            else:
                await _draw_lots(session, entry, first_lot_id)
            await session.flush()
    except IntegrityError:
        # A concurrent call with the same key won the race; its entry is the answer.
        existing = await by_key(session, entry.idempotency_key)
        if existing is None:
            raise
        await session.refresh(member)
        return _same_operation(existing, entry)
    return entry


async def _draw_lots(session: AsyncSession, entry: LedgerEntry, first_lot_id: int | None) -> None:
    needed = -entry.delta
    first = case((PointsLot.id == first_lot_id, 0), else_=1)
    lots = await session.execute(
        select(PointsLot.id, PointsLot.remaining)
        .where(PointsLot.member_id == entry.member_id, PointsLot.remaining > 0)
        .order_by(first, PointsLot.expires_at, PointsLot.id)
    )
    for lot_id, remaining in lots.all():
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


async def _restore_draws(
    session: AsyncSession, member: Member, entry: LedgerEntry, debit_id: int
) -> None:
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
