"""The points ledger: every movement is an append-only entry, written with its balance change.

Credits open a :class:`PointsLot` that expires on its own date; debits draw the lots that expire
soonest first and record each draw, so a refund can put points back exactly where they came from.
Each call carries an idempotency key: the same key again returns the first entry and moves nothing.

A reversed credit whose points were already spent records the shortfall on its lot (``owed``).
Whatever later flows back into that lot (a cancelled or expired code, any refund of a debit) pays
that shortfall first, with a ``reversal`` entry, so points a refund took back never come back.

Which lots a movement draws and restores is :mod:`core.lots`; closing expired lots in bulk is
:mod:`core.expiry`.

Concurrency: every movement first locks the member's row (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite already serializes writers with ``BEGIN IMMEDIATE``), so the balance check, the entry, the
balance and the lots change as one step per member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from core import lots
from core.db import insert_once
from core.errors import IdempotencyConflict, InsufficientPoints, InvalidInput, MemberNotFound
from core.models import EntryKind, LedgerEntry, Member, PointsLot, utcnow

CREDIT_KINDS = frozenset({EntryKind.EARN, EntryKind.REFERRAL, EntryKind.BONUS, EntryKind.ADJUST})
DEBIT_KINDS = frozenset({EntryKind.REDEEM, EntryKind.EXPIRE, EntryKind.ADJUST, EntryKind.REVERSAL})
# Far above any real movement, far below 2**63: a guard against typos and overflow.
MAX_MOVEMENT = 10**12


async def lock_member(session: AsyncSession, member_id: int) -> Member:
    """The member row, locked for this transaction and re-read from the database.

    Once per transaction: a purchase locks its member, then its credit does again, and by then the
    row is this transaction's alone, so the session's copy is current. Any bulk ``UPDATE`` or
    ``DELETE`` through the session, or the end of a transaction or savepoint (a savepoint rolled
    back lets go of the locks taken inside it on PostgreSQL), makes the next call read and lock
    again.
    """
    locked: set[int] = session.info.setdefault(_LOCKED, set())
    if member_id in locked and (member := await session.get(Member, member_id)) is not None:
        return member
    member = await session.scalar(
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if member is None:
        raise MemberNotFound(member_id=member_id)
    locked.add(member_id)
    return member


_LOCKED = "locked_members"


@event.listens_for(Session, "do_orm_execute")
def _forget_locks_on_bulk_change(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        state.session.info.pop(_LOCKED, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_locks_at_the_end(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_LOCKED, None)


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


async def expiring_points(
    session: AsyncSession, member_id: int, now: datetime, within: timedelta
) -> list[tuple[datetime, int]]:
    """(date, points) of the member's lots that expire within ``within``, soonest first."""
    rows = await session.execute(
        select(PointsLot.expires_at, PointsLot.remaining)
        .where(lots.expiring_lot(member_id, now, now + within))
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
    if entry.delta < 0 and member.balance < -entry.delta:
        existing = await by_key(session, entry.idempotency_key)
        if existing is not None:  # a retry of a debit that went through: its answer stands
            return _same_operation(existing, entry)
        raise InsufficientPoints(balance=member.balance, needed=-entry.delta)
    written = await insert_once(session, entry)
    if written is None:  # the key was used, by this call's first try or a concurrent one
        existing = await by_key(session, entry.idempotency_key)
        if existing is None:  # the key is the table's only unique column besides the id
            raise RuntimeError(f"ledger key {entry.idempotency_key!r} taken by no entry")
        return _same_operation(existing, entry)
    member.balance += written.delta
    if expires_at is not None:
        session.add(
            PointsLot(
                member_id=written.member_id,
                entry_id=written.id,
                points=written.delta,
                remaining=written.delta,
                earned_at=written.created_at,
                expires_at=expires_at,
            )
        )
    elif restore_from is not None:
        await lots.restore(session, member, written, restore_from)
    else:
        await lots.draw(session, written, first_lot_id)
    await session.flush()
    return written
