"""Alembic environment: runs the migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.database import create_engine
from storage.migration_lock import migration_lock
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    # Set by storage.migrate for `python -m bot migrate` and tests; DATABASE_URL for the CLI.
    return config.get_main_option("sqlalchemy.url") or os.environ.get(
        "DATABASE_URL", "sqlite+aiosqlite:///data/shopbot.db"
    )


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    # Read under the migration lock: what this run found, for `migrate` to report.
    config.attributes["heads_before"] = context.get_context().get_current_heads()
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = database_url()
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection, migration_lock(connection, url):
            await connection.run_sync(run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
    else:
        asyncio.run(run_async())
