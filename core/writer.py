"""Units of work on a SQLite file, run whole in a thread of their own: one hand-off each.

Through aiosqlite every statement of a transaction goes to aiosqlite's thread and back three or
four times; a purchase's twenty statements made some seventy hand-offs, more time than SQLite
spent on the writes. A :class:`Writer` instead ships the whole unit of work, an ``async`` function
of a session, to one thread that owns the process's writing connection and runs it there with
nothing in between: its statements run inline (:mod:`core.sqlite_inline`), since blocking that
thread is exactly what it is for. The event loop of the bot and the API waits for one result and
serves everyone else meanwhile.

The unit is the same code either way: :func:`run` gives it a session in the writer thread on a
SQLite file, or an ordinary transaction elsewhere (PostgreSQL, an in-memory SQLite). What it
returns crosses back to the caller's thread after the commit; ORM objects are detached then and
read like plain values (sessions do not expire on commit).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from core.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_WRITER_PRAGMAS,
    Session,
    Sessions,
    begin_immediately,
    make_sessionmaker,
    sqlite_file,
    transaction,
    tune_sqlite_connection,
    writer_queue,
)
from core.sqlite_inline import InlineConnection

T = TypeVar("T")
#: A unit of work: everything one action writes, given the session of its transaction.
Unit = Callable[[Session], Awaitable[T]]


class Writer:
    """The process's writing connection to one SQLite file, and the thread it lives in.

    The thread and its connection start with the first unit and stop at :meth:`close`. Units run
    one at a time, in the order they were asked for: the callers queue on the process's writer
    queue (:func:`core.db.writer_queue`), as every other transaction on the file does, so a unit
    never competes for SQLite's lock with a writer of its own process.
    """

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        self._queue_of = engine
        self._path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sessions: Sessions | None = None
        self._turns: asyncio.Lock | None = None

    @staticmethod
    def for_engine(engine: AsyncEngine) -> Writer | None:
        """A writer for a SQLite file behind ``engine``; None where units run in place."""
        path = sqlite_file(engine)
        return None if path is None else Writer(engine, path)

    async def run(self, unit: Unit[T]) -> T:
        async with writer_queue(self._queue_of):
            loop = self._start()
            done = asyncio.run_coroutine_threadsafe(self._in_thread(unit), loop)
            return await asyncio.wrap_future(done)

    async def _in_thread(self, unit: Unit[T]) -> T:
        # A caller that gives up (a client gone) cancels its unit, which rolls back or, past its
        # last pause, commits; it leaves the queue at once, so the thread takes turns too.
        assert self._sessions is not None and self._turns is not None
        async with self._turns, self._sessions() as session, session.begin():
            return await unit(session)

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._sessions = make_sessionmaker(self._engine())
            self._turns = asyncio.Lock()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="bashgah-writer", daemon=True
            )
            self._thread.start()
        return self._loop

    def _engine(self) -> AsyncEngine:
        path = self._path

        async def connect() -> InlineConnection:
            connection = sqlite3.connect(path)
            tune_sqlite_connection(connection, SQLITE_BUSY_TIMEOUT_MS, *SQLITE_WRITER_PRAGMAS)
            return InlineConnection(connection)

        # One connection, used by one unit at a time, kept for the writer's life.
        engine = create_async_engine(
            "sqlite+aiosqlite://", async_creator=connect, poolclass=StaticPool
        )
        begin_immediately(engine)
        return engine

    def close(self) -> None:
        """Close the connection and end the thread (waiting for a unit still running)."""
        loop, thread, sessions = self._loop, self._thread, self._sessions
        if loop is None or thread is None or sessions is None:
            return
        self._loop = self._thread = self._sessions = None
        engine = sessions.kw["bind"]
        asyncio.run_coroutine_threadsafe(engine.dispose(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def run(sessions: Sessions, writer: Writer | None, unit: Unit[T]) -> T:
    """``unit`` in one transaction: in ``writer``'s thread if there is one, else in place."""
    if writer is not None:
        return await writer.run(unit)
    async with transaction(sessions) as session:
        return await unit(session)
