"""A copy of the club's SQLite database taken while the bot keeps running (``bashgah db backup``).

SQLite's online backup API copies the database page by page, a few pages a step, so no single
step holds anything for long. A step that sees the source changed by another connection would
start the copy again from the first page, and a busy bot could keep it starting over forever; so
the copy runs inside one read transaction on the source, which pins the snapshot it started from.
The database is in WAL mode (:mod:`core.db`), where a reader blocks no writer: purchases go on
being recorded while the copy is taken, and the copy is the club as it stood at its first step.

The copy is written beside its destination under a temporary name and renamed into place when it
is complete, so a file at the destination is never half a backup. PostgreSQL has its own tools
(``pg_dump``), and they are the right ones there.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import make_url

from core.db import SQLITE_BUSY_TIMEOUT_MS
from core.errors import InvalidInput

PAGES_PER_STEP = 1024  # 4 MiB at SQLite's default page size
PARTIAL_SUFFIX = ".partial"
#: Called after each step with the pages copied and the pages in all, in the copying thread.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Backup:
    source: Path
    target: Path


def sqlite_path(database_url: str) -> Path:
    """The file behind a SQLite URL.

    :raises InvalidInput: ``backup_postgresql`` for any other engine (``pg_dump`` is its tool),
        ``backup_in_memory`` for a database that is not a file.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise InvalidInput("backup_postgresql", url.get_backend_name())
    if not url.database or url.database == ":memory:":
        raise InvalidInput("backup_in_memory", database_url)
    return Path(url.database)


def backup(
    database_url: str, target: Path, *, force: bool = False, progress: Progress | None = None
) -> Backup:
    """Copy the club's database to ``target``, a new file (or, with ``force``, replacing one).

    :raises InvalidInput: ``backup_exists`` (``target`` is there and not ``force``),
        ``backup_no_database`` (no database file at the URL), or what :func:`sqlite_path` raises.
    """
    source = sqlite_path(database_url)
    if not source.is_file():
        raise InvalidInput("backup_no_database", str(source))
    if target.exists() and not force:
        raise InvalidInput("backup_exists", str(target))
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    partial.unlink(missing_ok=True)
    try:
        _copy(source, partial, progress)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(source, target)


def _copy(source: Path, partial: Path, progress: Progress | None) -> None:
    """The page-stepped copy, inside one read transaction on the source."""
    # mode=rw: a mistyped path fails instead of creating an empty database to copy.
    uri = f"file:{quote(str(source.resolve()))}?mode=rw"
    timeout = SQLITE_BUSY_TIMEOUT_MS / 1000
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as reader:
        reader.isolation_level = None  # the transaction below is ours, not the module's
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot, from here
        with contextlib.closing(sqlite3.connect(partial)) as copy:
            reader.backup(copy, pages=PAGES_PER_STEP, progress=_reporter(progress))
        reader.execute("COMMIT")


def _reporter(progress: Progress | None) -> Callable[[int, int, int], None] | None:
    if progress is None:
        return None
    return lambda _status, remaining, total: progress(total - remaining, total)
