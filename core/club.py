"""The club opened once per process: settings, validated rules, the database, and the catalogue.

Everything that must be true before the first member is served happens in :meth:`Club.open`:
rules validated (a bad key stops the start with its name), the schema upgraded, and the rules
file's rewards synced. The bot keeps one ``Club`` for its whole life and closes it at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import rewards
from core.config import Settings
from core.db import make_engine, make_sessionmaker, transaction, upgrade
from core.reader import Reader
from core.rules import Rules, load_rules


@dataclass
class Club:
    settings: Settings
    rules: Rules
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    reader: Reader = field(init=False)  # quick reads outside a transaction

    def __post_init__(self) -> None:
        self.reader = Reader(self.engine)

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
        self.reader.close()
        await self.engine.dispose()
