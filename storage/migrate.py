"""Running the Alembic migrations from code (the CLI's `migrate`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The options are configparser values: a "%" (a percent-encoded password or socket
    # path) would be read as an interpolation, so it is doubled; env.py reads it back whole.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> tuple[str, ...]:
    """Migrate (one process at a time: storage/migration_lock.py); returns the revisions the
    database was at before, as read under the lock (empty: a new database)."""
    config = alembic_config(database_url)
    command.upgrade(config, revision)
    return tuple(config.attributes.get("heads_before", ()))


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> tuple[str, ...]:
    # env.py runs its own event loop; keep it off the caller's.
    return await asyncio.to_thread(upgrade, database_url, revision)
