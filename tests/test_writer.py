"""Units of work in the writer thread (core.writer): the action's transaction runs whole in one
thread that owns the SQLite file's writing connection, while the event loop serves everyone else;
on PostgreSQL the same unit runs in place. Driven through the core use cases, as the faces call
them."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from core.actions import purchases
from core.audit import Actor
from core.club import Club
from core.db import Session
from core.errors import DuplicateReference, MemberNotFound
from core.models import LedgerEntry, Member, Purchase, utcnow
from tests.helpers import assert_books_balance, new_member, reload_member

CASHIER = Actor(501, "Cashier")


async def _member(club: Club) -> int:
    async with club.sessions() as s, s.begin():
        return (await new_member(s, club.rules, utcnow())).id


async def _count(club: Club, model: type) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _sqlite_file(club: Club) -> str:
    if club.writer is None:
        pytest.skip("the writer thread is SQLite's")
    return str(club.engine.url.database)


async def test_a_unit_runs_in_the_writer_thread_on_sqlite_and_in_place_elsewhere(
    club: Club,
) -> None:
    async def where(session: Session) -> str:
        await session.get(Member, 1)
        return threading.current_thread().name

    ran_in = await club.write(where)

    expected = "bashgah-writer" if club.engine.dialect.name == "sqlite" else "MainThread"
    assert ran_in == expected


async def test_the_loop_serves_others_while_a_unit_holds_the_writer(club: Club) -> None:
    """A unit stuck in SQLite (here: waiting on an event, as a long statement would) leaves the
    event loop free; only the writer's queue waits for it."""
    _sqlite_file(club)
    inside, release = threading.Event(), threading.Event()

    async def slow(session: Session) -> int:
        inside.set()
        release.wait(timeout=30)  # blocks the writer thread, as a slow statement does
        return int(await session.scalar(select(func.count()).select_from(Member)) or 0)

    running = asyncio.create_task(club.write(slow))
    await asyncio.to_thread(inside.wait, 30)
    ticks = 0
    for _ in range(20):  # the loop goes round while the writer is busy
        await asyncio.sleep(0)
        ticks += 1
    assert not running.done()
    release.set()
    assert await running == 0
    assert ticks == 20


async def test_an_error_in_a_unit_rolls_it_back_and_reaches_the_caller(club: Club) -> None:
    member_id = await _member(club)
    with pytest.raises(MemberNotFound):
        await purchases.purchase(club, CASHIER, "999999", 100_000, reference="R1", key="k1")

    async def half(session: Session) -> None:
        member = await session.get(Member, member_id)
        assert member is not None
        member.balance += 1_000  # never committed: the unit fails after it
        await session.flush()
        raise RuntimeError("the till crashed")

    with pytest.raises(RuntimeError, match="the till crashed"):
        await club.write(half)
    assert (await reload_member(club.sessions, member_id)).balance == 0
    assert await _count(club, Purchase) == 0


async def test_concurrent_purchases_queue_and_the_books_balance(club: Club) -> None:
    members = [await _member(club) for _ in range(4)]

    async def buy(i: int) -> None:
        member = str(members[i % len(members)])
        await purchases.purchase(club, CASHIER, member, 100_000, reference=f"R{i}", key=f"k{i}")

    await asyncio.gather(*(buy(i) for i in range(40)))
    again = await asyncio.gather(*(buy(i) for i in range(40)), return_exceptions=True)

    assert all(isinstance(answer, DuplicateReference) for answer in again)  # nothing twice

    assert await _count(club, Purchase) == 40
    assert await _count(club, LedgerEntry) == 40
    async with club.sessions() as s:
        for member_id in members:
            await assert_books_balance(s, member_id)


async def test_another_process_holding_the_lock_makes_a_unit_wait_not_the_loop(
    club: Club,
) -> None:
    """A second process (the CLI's import, say) holds SQLite's write lock: the purchase waits for
    it in the writer thread while the loop goes on, then goes through."""
    path = _sqlite_file(club)
    member_id = await _member(club)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        buying = asyncio.create_task(
            purchases.purchase(club, CASHIER, str(member_id), 100_000, reference="R", key="k")
        )
        for _ in range(50):
            await asyncio.sleep(0.001)  # the loop keeps running meanwhile
        assert not buying.done()
    finally:
        other.execute("ROLLBACK")
        other.close()
    recorded = await buying
    assert recorded.member.id == member_id
    assert await _count(club, Purchase) == 1


async def test_release_ends_the_writer_thread(club: Club) -> None:
    _sqlite_file(club)
    member_id = await _member(club)
    before = set(_writer_threads())
    await purchases.purchase(club, CASHIER, str(member_id), 100_000, reference="R", key="k")
    (started,) = set(_writer_threads()) - before

    club.release()

    assert not started.is_alive()


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bashgah-writer"]
