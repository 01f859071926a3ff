"""A member's standing read in one statement outside a transaction (:mod:`core.standing`,
:mod:`core.reader`): the same figures the ledger and tier rules give, on both engines, and a
SQLite read that waits the async way when the file is locked."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import ledger, purchases, standing, tiers
from core.db import make_engine, make_sessionmaker, transaction
from core.reader import Reader
from core.rules import Rules
from tests.conftest import fresh_sqlite_url
from tests.helpers import new_member

MONTH = timedelta(days=30)


async def test_standing_matches_the_ledger_and_the_tier_rules(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as s:
        member = await new_member(s, rules, now)
        old = now - timedelta(days=rules.expiry.days - 10)  # expires within the month
        await purchases.record(s, rules, member.id, 400_000, reference="OLD", now=old)
        await purchases.record(s, rules, member.id, 250_000, reference="NEW", now=now)
    reader = Reader(engine)
    try:
        found = await standing.read(reader, rules, member.telegram_id, now, MONTH)
    finally:
        reader.close()

    async with transaction(sessions) as s:
        assert found is not None
        assert found.balance == await ledger.ledger_sum(s, member.id) > 0
        assert found.qualifying == await tiers.qualifying_points(s, rules, member.id, now)
        assert found.expiring == await ledger.expiring_points(s, member.id, now, MONTH)
        assert len(found.expiring) == 1, "only the old purchase's lot expires within the month"
    assert (found.id, found.tier, found.locale) == (member.id, member.tier, member.locale)


async def test_no_member_no_standing(engine: AsyncEngine, rules: Rules, now: datetime) -> None:
    reader = Reader(engine)
    try:
        assert await standing.read(reader, rules, 999_999_999, now, MONTH) is None
    finally:
        reader.close()


async def test_a_locked_sqlite_file_is_read_once_the_lock_is_gone(
    tmp_path: Path, sqlite_template: Path, rules: Rules, now: datetime
) -> None:
    """An exclusive lock (another process writing in exclusive mode) makes the quick read busy;
    the read then waits for the lock off the event loop and sees what was committed."""
    url = fresh_sqlite_url(sqlite_template, tmp_path)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with transaction(sessions) as s:
        member = await new_member(s, rules, now)
    await engine.dispose()  # the other process must be alone to lock the file exclusively
    writer = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("UPDATE members SET balance = 77 WHERE id = ?", (member.id,))
    reader = Reader(engine)
    try:
        reading = asyncio.create_task(standing.read(reader, rules, member.telegram_id, now, MONTH))
        await asyncio.sleep(0.5)
        assert not reading.done(), "the read did not wait for the lock"
        writer.execute("COMMIT")
        writer.close()
        found = await asyncio.wait_for(reading, 10)
    finally:
        reader.close()
        await engine.dispose()
    assert found is not None and found.balance == 77
