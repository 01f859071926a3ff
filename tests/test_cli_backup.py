"""``bashgah db backup FILE``: a whole copy of the SQLite database while purchases go on.

The copy is taken in steps inside one read snapshot (``core.backup``): purchases recorded between
its steps neither wait for it nor make it start over, and the copy is the club as it stood when it
began. PostgreSQL is pointed to ``pg_dump``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from core import backup
from core.actions import purchases
from core.audit import Actor
from core.club import Club
from core.db import make_engine, make_sessionmaker
from core.models import Purchase
from tests.helpers import assert_books_balance, new_member

CASHIER = Actor(2002, "Reza")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a SQLite database's file is copied; PostgreSQL has pg_dump")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", database_url)


async def bashgah(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["db", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def _member(club: Club, now: datetime) -> int:
    async with club.sessions() as session, session.begin():
        return (await new_member(session, club.rules, now)).id


async def _buy(club: Club, member_id: int, numbers: range) -> None:
    for n in numbers:
        await purchases.purchase(
            club, CASHIER, f"#{member_id}", 100_000, reference=f"INV-{n}", key=f"k{n}"
        )


async def _purchases_in(path: Path, member_id: int) -> int:
    """The purchases in the database file at ``path``, once its member's books are checked."""
    with contextlib.closing(sqlite3.connect(path)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await assert_books_balance(session, member_id)
            return int(await session.scalar(select(func.count()).select_from(Purchase)) or 0)
    finally:
        await engine.dispose()


async def test_purchases_go_on_while_the_copy_is_taken(
    club: Club, now: datetime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    member_id = await _member(club, now)
    await _buy(club, member_id, range(3))
    monkeypatch.setattr(backup, "PAGES_PER_STEP", 4)  # many steps, a purchase after each
    loop, steps = asyncio.get_running_loop(), []

    def meanwhile(done: int, total: int) -> None:  # in the copying thread, between two steps
        steps.append(done)
        purchase = _buy(club, member_id, range(100 + len(steps), 101 + len(steps)))
        asyncio.run_coroutine_threadsafe(purchase, loop).result(timeout=30)

    target = tmp_path / "copy.db"
    await asyncio.to_thread(backup.backup, club.settings.database_url, target, progress=meanwhile)

    assert len(steps) > 3 and steps == sorted(steps)  # never started over
    assert await _purchases_in(target, member_id) == 3  # the club as it stood at the start
    source = backup.sqlite_path(club.settings.database_url)
    assert await _purchases_in(source, member_id) == 3 + len(steps)  # nobody waited
    left = await asyncio.to_thread(os.listdir, tmp_path)
    assert sorted(name for name in left if name.startswith("copy")) == ["copy.db"]


async def test_the_command_makes_a_new_file_and_replaces_one_only_when_forced(
    club: Club, now: datetime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    member_id = await _member(club, now)
    await _buy(club, member_id, range(2))

    code, out, err = await bashgah(capsys, "backup", "nightly.db")
    assert (code, err) == (0, "") and "backed up" in out and "nightly.db" in out
    assert out.splitlines()[-2] == "copied 100%"
    assert await _purchases_in(tmp_path / "nightly.db", member_id) == 2

    await _buy(club, member_id, range(2, 3))
    code, out, err = await bashgah(capsys, "backup", "nightly.db")
    assert code == 1 and "nightly.db exists already (add --force" in err
    assert await _purchases_in(tmp_path / "nightly.db", member_id) == 2  # untouched

    code, out, err = await bashgah(capsys, "backup", "nightly.db", "--force")
    assert (code, err) == (0, "")
    assert await _purchases_in(tmp_path / "nightly.db", member_id) == 3


async def test_postgresql_and_a_missing_database_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASHGAH_DATABASE_URL", "postgresql+asyncpg://bashgah@127.0.0.1:9/club")
    code, _, err = await bashgah(capsys, "backup", "club.db")
    assert code == 1 and "PostgreSQL" in err and "pg_dump" in err

    monkeypatch.setenv("BASHGAH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'typo.db'}")
    code, _, err = await bashgah(capsys, "backup", "club.db")
    assert code == 1 and "no database file at" in err
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "club.db").exists()
