"""Small builders shared by the core tests, so each test states only what it is about."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Coroutine
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

from hypothesis.stateful import RuleBasedStateMachine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, members
from core.club import Club
from core.db import make_engine, make_sessionmaker
from core.models import AuditEntry, Member
from core.rules import Rules
from tests.conftest import fresh_sqlite_url

_telegram_ids = count(10_000)


async def new_member(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    *,
    name: str = "Sara",
    referral_code: str | None = None,
    phone: str | None = None,
) -> Member:
    result = await members.join(
        session,
        rules,
        telegram_id=next(_telegram_ids),
        name=name,
        phone=phone,
        referral_code=referral_code,
        now=now,
    )
    return result.member


async def assert_books_balance(session: AsyncSession, member_id: int) -> None:
    """The invariant: balance == sum of the ledger == sum of open lots, never negative."""
    member = await ledger.lock_member(session, member_id)
    entries = await ledger.ledger_sum(session, member_id)
    lots = await ledger.lots_sum(session, member_id)
    assert member.balance == entries == lots, (member.balance, entries, lots)
    assert member.balance >= 0


async def join_user(
    sessions: async_sessionmaker[AsyncSession],
    rules: Rules,
    user: dict,
    phone: str,
    code: str | None = None,
) -> Member:
    """A member for this Telegram user, joined as the join flow would make them."""
    async with sessions() as s, s.begin():
        result = await members.join(
            s, rules, telegram_id=user["id"], name=user["first_name"], phone=phone,
            referral_code=code,
        )  # fmt: skip
        return result.member


async def reload_member(sessions: async_sessionmaker[AsyncSession], member_id: int) -> Member:
    """The member as the database has them now."""
    async with sessions() as s:
        member = await s.get(Member, member_id)
        assert member is not None
        return member


T = TypeVar("T")


class DatabaseMachine(RuleBasedStateMachine):
    """A hypothesis state machine over a fresh copy of the migrated SQLite database per run.

    Set ``template`` (the ``sqlite_template`` fixture) before running; rules call :meth:`run`.
    """

    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.runner = asyncio.Runner()
        self.engine = make_engine(fresh_sqlite_url(self.template, Path(self.folder.name)))
        self.sessions = make_sessionmaker(self.engine)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.runner.close()
        self.folder.cleanup()


async def audit_entries(club: Club, action: str) -> list[AuditEntry]:
    """The audit log's entries of one action, oldest first."""
    async with club.sessions() as s:
        rows = await s.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return list(rows)
