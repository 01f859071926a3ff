"""Alembic environment. Migrations always run over a connection handed in by :func:`core.db.upgrade`
(or, for ``alembic revision --autogenerate`` during development, one opened from ``-x url=...``)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from core.models import Base

target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_from_url(url: str) -> None:
    from core.db import make_engine

    async def _main() -> None:
        engine = make_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
        await engine.dispose()

    asyncio.run(_main())


connection = context.config.attributes.get("connection")
if connection is not None:
    _migrate(connection)
else:
    _run_from_url(context.get_x_argument(as_dictionary=True)["url"])
