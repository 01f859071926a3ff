"""Engines, sessions and schema upgrades for SQLite (embedded default) and PostgreSQL.

SQLite is tuned for one shop: WAL so readers never block the writer, and ``BEGIN IMMEDIATE`` so a
transaction takes the write lock up front. Without it two transactions that both read and then
write would both start, and one would fail with "database is locked" instead of waiting its turn.

Work that only reads (exports, reports) takes a :func:`snapshot` instead: it never takes the write
lock, so an export of a million rows does not hold up a single purchase.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Table, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import StaticPool

#: One unit of work, as faces and jobs hold it: core functions take it, nothing else is needed.
Session: TypeAlias = AsyncSession
#: Where sessions come from (the club's ``sessions``): pass it to :func:`transaction`.
Sessions: TypeAlias = async_sessionmaker[AsyncSession]
M = TypeVar("M")  # a mapped class

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


#: What every writing connection to the SQLite file sets, beside :func:`tune_sqlite_connection`.
SQLITE_WRITER_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin (for savepoints).
        tune_sqlite_connection(dbapi_connection, SQLITE_BUSY_TIMEOUT_MS, *SQLITE_WRITER_PRAGMAS)

    begin_immediately(engine)


def begin_immediately(engine: AsyncEngine) -> None:
    """Every transaction on ``engine`` takes SQLite's write lock as it begins; a
    :func:`snapshot`'s begins deferred, and never takes it."""

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get(_READ_SNAPSHOT, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of the SQLite file behind ``engine``; None for PostgreSQL or an in-memory
    database, where no second connection of our own can reach the same data."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


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


#: The execution option that makes SQLite's ``begin`` listener begin a deferred transaction.
_READ_SNAPSHOT = "bashgah_read_snapshot"
_SNAPSHOT_OPTIONS: dict[str, dict[str, Any]] = {
    "sqlite": {_READ_SNAPSHOT: True},
    "postgresql": {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True},
}


@asynccontextmanager
async def snapshot(sessions: Sessions) -> AsyncIterator[Session]:
    """A unit of work that only reads: every statement in it sees the database as it was at the
    first, and it neither waits for writers nor makes them wait. Nothing is committed.

    On SQLite a deferred ``BEGIN`` on a connection of its own: with WAL the first read pins a
    snapshot while writers go on appending to the log, and the process's writer queue (see
    :func:`transaction`) is never joined. On PostgreSQL a ``REPEATABLE READ, READ ONLY``
    transaction. An export holds its snapshot for minutes: on SQLite the log then grows until it
    ends (a checkpoint cannot pass a reader), which is disk, not waiting. An in-memory SQLite
    database has one connection for everyone, so there a snapshot takes its turn with the writers.
    """
    bind = sessions.kw.get("bind")
    one_connection = isinstance(bind, AsyncEngine) and isinstance(bind.pool, StaticPool)
    queue = _sqlite_writer(sessions) if one_connection else contextlib.nullcontext()
    async with queue, sessions() as session:
        options = _SNAPSHOT_OPTIONS[session.get_bind().dialect.name]
        await session.connection(execution_options=options)
        yield session


_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _sqlite_writer(sessions: Sessions) -> contextlib.AbstractAsyncContextManager[object]:
    """The process's writer queue of the SQLite database behind ``sessions`` (none elsewhere)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return contextlib.nullcontext()
    return writer_queue(bind)


def writer_queue(engine: AsyncEngine) -> asyncio.Lock:
    """The queue in which this process's writers to the SQLite database ``engine`` take turns."""
    return _WRITERS.setdefault(engine.sync_engine, asyncio.Lock())


def insert_for(session: Session, table: Any) -> Any:
    """``INSERT`` of the session's dialect, which has ``ON CONFLICT`` (plain SQLAlchemy has not):
    one statement that inserts or leaves a row, so two writers of one key never collide."""
    return _insert_of(session.get_bind().dialect.name)(table)


def _insert_of(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


async def insert_once(session: Session, row: M) -> M | None:
    """Write the new ``row`` unless one of its unique keys is taken: ``row`` itself, now
    persistent in the session, or None if an earlier or concurrent writer holds the key.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` instead of the look, savepoint, insert and
    release (and the look again after losing a race) that the ORM would need for the same answer.
    It goes as a plain table statement, built once per table and dialect, with the row as its
    parameters; what comes back (the id, the columns' defaults) is set on ``row`` as loaded, and
    the row joins the session as if the ORM had read it. The ORM's own INSERT … RETURNING of
    entities cost five times as much, more than the write itself.
    """
    mapper = inspect(type(row))
    values = {
        attribute.columns[0].key: value
        for attribute in mapper.column_attrs
        if (value := getattr(row, attribute.key)) is not None
    }
    statement = _insert_once_statement(session.get_bind().dialect.name, mapper.local_table)
    written = (await session.execute(statement, values)).first()
    if written is None:
        return None
    for attribute in mapper.column_attrs:
        set_committed_value(row, attribute.key, written._mapping[attribute.columns[0]])
    make_transient_to_detached(row)
    session.add(row)
    return row


@functools.cache
def _insert_once_statement(dialect: str, table: Table) -> Any:
    return _insert_of(dialect)(table).on_conflict_do_nothing().returning(*table.columns)


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
