"""Quick reads: one statement, outside any transaction, on the cheapest path the database offers.

The hottest member commands (``/points``) only read. Through the async session a read costs a
transaction (``BEGIN IMMEDIATE`` on SQLite, which also takes the write lock), several hops to
aiosqlite's thread and back, and the ORM: about a millisecond, ten times what the query itself
takes. On a SQLite file a :class:`Reader` runs the statement on a plain synchronous connection in
the calling thread instead: with WAL one statement reads one consistent snapshot without waiting
for a writer, and an indexed lookup takes tens of microseconds, less than the hop alone (the event
loop is held that long, as it is by any Python code). If the database is busy beyond
:data:`READ_BUSY_MS` (a checkpoint, say), the read goes the async way.

Elsewhere (PostgreSQL, an in-memory SQLite) statements go through the async engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, Executable, Row, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import sqlite_file, tune_sqlite_connection

READ_BUSY_MS = 100


class Reader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._local = _local_sqlite(engine)

    async def rows(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """Every row ``statement`` returns, read as one snapshot."""
        if self._local is not None:
            try:
                with self._local.connect() as connection:
                    return connection.execute(statement, params).all()
            except OperationalError:
                pass  # busy: wait for the lock the async way, off the event loop
        async with self._engine.connect() as connection:
            return (await connection.execute(statement, params)).all()

    def close(self) -> None:
        if self._local is not None:
            self._local.dispose()


def _local_sqlite(engine: AsyncEngine) -> Engine | None:
    """A synchronous read-only engine on the same SQLite file, or ``None`` if there is no file."""
    if sqlite_file(engine) is None:
        return None
    local = create_engine(engine.url.set(drivername="sqlite+pysqlite"))

    @event.listens_for(local, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # no BEGIN at all (autocommit): each statement reads its own snapshot
        tune_sqlite_connection(dbapi_connection, READ_BUSY_MS, "PRAGMA query_only=ON")

    return local
