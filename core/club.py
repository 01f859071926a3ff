"""The club opened once per process: settings, validated rules, the database, and the catalogue.

Everything that must be true before the first member is served happens in :meth:`Club.open`:
rules validated (a bad key stops the start with its name), the schema upgraded, and the rules
file's rewards synced. The bot keeps one ``Club`` for its whole life and closes it at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import rewards
from core.config import Settings
from core.db import make_engine, make_sessionmaker, transaction, upgrade
from core.reader import Reader
from core.rules import Rules, load_rules
from core.writer import Unit, Writer, run

T = TypeVar("T")


@dataclass
class Club:
    settings: Settings
    rules: Rules
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reader: Reader = field(init=False)  # quick reads outside a transaction
    writer: Writer | None = field(init=False)  # units of work in a thread of their own (SQLite)

    def __post_init__(self) -> None:
        self.reader = Reader(self.engine)
        self.writer = Writer.for_engine(self.engine)

    async def write(self, unit: Unit[T]) -> T:
        """``unit`` in one transaction, as :func:`core.writer.run` runs it for this club."""
        return await run(self.sessions, self.writer, unit)

    def release(self) -> None:
        """Let go of the connections this club opened itself (the engine is the caller's)."""
        self.reader.close()
        if self.writer is not None:
            self.writer.close()

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> Club:
        rules = load_rules(settings.rules)
        engine = make_engine(settings.database_url)
        club = cls(settings, rules, engine, make_sessionmaker(engine))
        try:
            if migrate:
                await upgrade(engine)
            async with transaction(club.sessions) as session:
                await rewards.sync_catalogue(session, rules)
        except BaseException:
            await club.close()
            raise
        return club

    async def close(self) -> None:
        self.release()
        await self.engine.dispose()
