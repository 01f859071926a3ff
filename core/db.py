"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL.

SQLite is tuned for one shop: WAL so readers never block the writer, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front. Without it two transactions that both read and then
write would both start, and one would fail with "database is locked" instead of waiting its turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

#: One unit of work, as faces and jobs hold it: core functions take it, nothing else is needed.
Session: TypeAlias = AsyncSession
#: Where sessions come from (the club's ``sessions``): pass it to :func:`transaction`.
Sessions: TypeAlias = async_sessionmaker[AsyncSession]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# SQLite's default page cache (2 MiB) is sized for phones; a club's ledger indexes run to hundreds
# of MiB, and sweeps over them read every page again from the OS. 64 MiB a connection, used only
# as it fills.
SQLITE_CACHE_KIB = 64 * 1024


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``; SQLite connections get WAL, foreign keys and eager locking."""
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def tune_sqlite_connection(dbapi_connection: Any, busy_timeout_ms: int, *pragmas: str) -> None:
    """What every SQLite connection of ours gets: no implicit transactions from the sqlite3
    module, a busy timeout, the page cache, and ``pragmas``."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        *pragmas,
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}",
    ):
        cursor.execute(pragma)
    cursor.close()


def _tune_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin (for savepoints).
        tune_sqlite_connection(
            dbapi_connection,
            SQLITE_BUSY_TIMEOUT_MS,
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
        )

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises.

    On SQLite every transaction takes the database's one write lock (``BEGIN IMMEDIATE``), and a
    connection that finds it taken sleeps and polls (SQLite's busy handler), up to 100 ms a nap:
    with a dozen concurrent callers some waited a whole second for a lock free most of the time.
    So within a process they queue on an asyncio lock instead, first come first served, and only
    another process's writer is left to the busy handler.
    """
    async with _sqlite_writer(sessions), sessions() as session, session.begin():
        yield session


_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _sqlite_writer(sessions: Sessions) -> contextlib.AbstractAsyncContextManager[object]:
    """The process's writer queue of the SQLite database behind ``sessions`` (none elsewhere)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return _WRITERS.setdefault(bind.sync_engine, asyncio.Lock())


def insert_for(session: Session, table: Any) -> Any:
    """``INSERT`` of the session's dialect, which has ``ON CONFLICT`` (plain SQLAlchemy has not):
    one statement that inserts or leaves a row, so two writers of one key never collide."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def _head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` over the engine's own connection.

    A schema already at the head is left at once: every start of the bot upgrades, and alembic
    would load each migration's module again to find there is nothing to do (a tenth of a
    second, paid by every test that starts the bot)."""

    def _run(connection: Connection) -> None:
        current = MigrationContext.configure(connection).get_current_revision()
        if revision == "head" and current == _head_revision():
            return
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)


def upgrade_url(url: str) -> None:
    """Synchronous entry point for the CLI (``bashgah db upgrade``)."""

    async def _main() -> None:
        engine = make_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_main())
