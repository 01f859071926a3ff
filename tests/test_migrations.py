"""The migrations build exactly the schema the models declare, and rerunning them is harmless."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import alembic_config, make_engine, make_sessionmaker, upgrade
from core.models import Base, Member


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": False})
    return compare_metadata(context, Base.metadata)


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def test_migrations_have_a_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_schema_diff) == []


async def test_upgrade_twice_is_a_noop(engine: AsyncEngine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Member(tier="bronze", referral_code="KEEPME"))

    await upgrade(engine)

    async with engine.connect() as conn:
        assert await conn.run_sync(_current_revision) == head
        assert await conn.run_sync(_schema_diff) == []
        assert await conn.scalar(select(func.count()).select_from(Member)) == 1


async def test_sqlite_engine_is_tuned(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'tuned.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.scalar(text("PRAGMA journal_mode"))).lower() == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()
