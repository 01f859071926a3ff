"""An asyncio face on a plain ``sqlite3`` connection, for the writer thread: no thread of its own.

SQLAlchemy's async engine speaks to SQLite through aiosqlite, which runs every call on a thread of
its own: a statement costs three or four hand-offs there and back, 50-100 µs each, several times
what an indexed write takes. The process's :class:`~core.writer.Writer` already runs in a thread
of its own where blocking is the point, so there each call runs at once, in the calling thread:
the coroutines below never suspend. SQLAlchemy's aiosqlite dialect takes them through its
``async_creator`` hook; this module is the small part of aiosqlite's surface that dialect uses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class InlineCursor:
    """A ``sqlite3`` cursor whose methods are coroutines that finish without suspending."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size or self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """A ``sqlite3`` connection with aiosqlite's coroutine methods, run in the calling thread."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        # The name aiosqlite gives it: the dialect reads it to see whether the connection is open.
        self._connection: sqlite3.Connection | None = connection

    @property
    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._open.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._open.cursor())

    async def create_function(
        self, name: str, arity: int, function: Callable[..., Any], **options: Any
    ) -> None:
        self._open.create_function(name, arity, function, **options)

    async def commit(self) -> None:
        self._open.commit()

    async def rollback(self) -> None:
        self._open.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """What SQLAlchemy calls to drop a connection it cannot close politely."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
