"""Shared fixtures: real databases built by the migrations, on SQLite and on PostgreSQL.

SQLite: the migrations run once into a template file; each test gets a fresh copy.
PostgreSQL: set ``BASHGAH_TEST_POSTGRES_URL`` (``.ci/run`` does); the migrations run once and every
test starts from empty tables but for what the migrations write (branch ``main``).

The suite runs in parallel (pytest-xdist, ``-n auto`` in pyproject.toml): each worker has its own
temporary folder, hence its own SQLite template, and its own PostgreSQL database, named after the
configured one and the worker (``bashgah_test_gw0``), which it creates if missing (the role needs
``CREATEDB``, which ``.ci/run`` grants).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool
from telegram.ext import Application

from bot.app import build_application, running
from bot.context import club_of
from bot.shell import Driver
from bot.standin import BotApiStandin
from core.club import Club
from core.config import Settings
from core.db import make_engine, make_sessionmaker, upgrade
from core.models import MAIN_BRANCH, Base, Branch
from core.rules import Rules

# Hypothesis fails an example slower than 200 ms, and data drawn too slowly: wall-clock checks
# that a loaded machine (the suite runs on every core, beside other work) fails now and then.
# The properties are about what the code returns; the tests that are about time say so.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")


def _worker_database(url: str | None) -> str | None:
    """The configured PostgreSQL URL, or under xdist this worker's own database beside it: workers
    migrate and empty their database, so they cannot share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None or worker is None:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


CONFIGURED_POSTGRES_URL = os.environ.get("BASHGAH_TEST_POSTGRES_URL")
POSTGRES_URL = _worker_database(CONFIGURED_POSTGRES_URL)
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _migrate(url: str) -> None:
    async def main() -> None:
        engine = make_engine(url, poolclass=NullPool)
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(main())


def _create_database(url: str, beside: str) -> None:
    """Create ``url``'s database if it is missing, connected to the configured one (``beside``)."""
    name = make_url(url).database

    async def main() -> None:
        engine = make_engine(beside, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                exists = await conn.scalar(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if not exists:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as error:
            raise RuntimeError(
                f"cannot create the test database {name}: grant its role CREATEDB (.ci/run does)"
                " or create it, or run in one process (-n 0)"
            ) from error
        finally:
            await engine.dispose()

    asyncio.run(main())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    assert POSTGRES_URL and CONFIGURED_POSTGRES_URL
    if POSTGRES_URL != CONFIGURED_POSTGRES_URL:
        _create_database(POSTGRES_URL, beside=CONFIGURED_POSTGRES_URL)
    _migrate(POSTGRES_URL)
    yield POSTGRES_URL


def fresh_sqlite_url(template: Path, folder: Path) -> str:
    path = folder / "bashgah.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Synchronous, so the one-off migrations run outside the test's event loop."""
    if request.param == "sqlite":
        return fresh_sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    return str(request.getfixturevalue("postgres_ready"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    if database_url.startswith("postgresql"):
        engine = make_engine(database_url, pool_size=20, max_overflow=40)
    else:
        engine = make_engine(database_url)
    yield engine
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await empty_tables(conn)
    await engine.dispose()


async def empty_tables(conn: AsyncConnection) -> None:
    """A PostgreSQL database as the migrations leave it: every table empty but for branch
    ``main``, every sequence at its start.

    Every PostgreSQL test ends here, so it must be quick: DELETE (children first) takes a few
    milliseconds for the rows a test writes, where a TRUNCATE of every table took 0.4 to 0.9 s
    (it gives each table new files, synced at commit); and one block is one round trip."""
    quote = conn.dialect.identifier_preparer.format_table
    deletes = "".join(f"DELETE FROM {quote(t)}; " for t in reversed(Base.metadata.sorted_tables))
    await conn.execute(
        text(
            f"DO $$ BEGIN {deletes}"
            "PERFORM setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s"
            " JOIN pg_class c ON c.oid = s.seqrelid"
            " WHERE c.relnamespace = 'public'::regnamespace; END $$"
        )
    )
    await conn.execute(insert(Branch).values(code=MAIN_BRANCH, name=MAIN_BRANCH))


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One open transaction for straightforward single-actor tests."""
    async with sessions() as session, session.begin():
        yield session


@pytest.fixture
def rules() -> Rules:
    return Rules()


@pytest.fixture
def now() -> datetime:
    return NOW


STAFF_CHAT_ID = -1001234567890


def club_over(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], url: str, rules: Rules
) -> Club:
    """A club over the test database, as ``Club.open`` makes it (the schema is already there)."""
    settings = Settings(_env_file=None, database_url=url, staff_chat_id=STAFF_CHAT_ID)
    return Club(settings, rules, engine, sessions)


@pytest.fixture
async def club(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Club]:
    """The club the core actions take, with the default rules and a staff group."""
    club = club_over(engine, sessions, database_url, Rules())
    yield club
    club.release()


#: The bot token of ``app_club``: the Mini App's launch data is signed with it.
MINIAPP_TOKEN = "7000000001:AAE-miniapp-test-token_0123456789abc"


@pytest.fixture
async def app_club(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Club]:
    """The suite's club, with a bot token: the key of every launch's signature."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        staff_chat_id=STAFF_CHAT_ID,
        bot_token=SecretStr(MINIAPP_TOKEN),
    )
    club = Club(settings, Rules(), engine, sessions)
    yield club
    club.release()


@pytest.fixture
async def limited(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[Club]:
    """The same club by invitation only (``club_mode = "limited"``)."""
    club = club_over(engine, sessions, database_url, Rules(club_mode="limited"))
    yield club
    club.release()


@dataclass
class BotHarness:
    """The real Application over the Bot API stand-in, and a client that talks to it."""

    app: Application
    standin: BotApiStandin
    chat: Driver

    @property
    def club(self) -> Club:
        return club_of(self.app)


@pytest.fixture
async def bot(engine: AsyncEngine, database_url: str) -> AsyncIterator[BotHarness]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        staff_chat_id=STAFF_CHAT_ID,
        api_base_url="http://127.0.0.1:9/unused",
    )
    standin = BotApiStandin()
    app = build_application(settings, request=standin)
    async with running(app):
        yield BotHarness(app, standin, Driver.for_member(app, standin))
