"""Migrations: each revision goes up, down and up again, and head matches the models exactly."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from storage.database import create_engine
from storage.migrate import alembic_config, downgrade, upgrade, upgrade_async
from storage.models import Base
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database, sqlite_url


@pytest.fixture(params=BACKENDS)
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "stairway.db")
        return
    url = create_postgres_database("shopbot_stairway")
    yield url
    drop_postgres_database(url)


def revisions(url: str) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(url))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


async def schema_differences(url: str) -> list:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def test_a_url_with_percent_signs_migrates(empty_database, tmp_path):
    # A password with special characters is percent-encoded in its URL (as a socket
    # directory in ?host= is): Alembic's configuration must not read those as its own
    # %(interpolations)s.
    if empty_database.startswith("sqlite"):
        folder = tmp_path / "100% shop"
        folder.mkdir()
        url = sqlite_url(folder / "shop.db")
    else:
        url = make_url(empty_database).set(password="p@ss%word").render_as_string(False)
        assert "%40" in url and "%25" in url
    await upgrade_async(url)
    assert "orders" in await table_names(url)


def test_stairway(empty_database):
    # every revision: up, down to the one before, up again
    previous = "base"
    for revision in revisions(empty_database):
        upgrade(empty_database, revision)
        downgrade(empty_database, previous)
        upgrade(empty_database, revision)
        previous = revision


async def test_head_is_exactly_the_models(empty_database):
    await asyncio.to_thread(upgrade, empty_database)
    assert await schema_differences(empty_database) == []
    assert set(Base.metadata.tables) <= await table_names(empty_database)


async def test_downgrade_to_base_leaves_no_tables(empty_database):
    await asyncio.to_thread(upgrade, empty_database)
    await asyncio.to_thread(downgrade, empty_database, "base")
    assert await table_names(empty_database) <= {"alembic_version"}


async def test_the_check_sees_a_model_the_migrations_lack(empty_database, monkeypatch):
    # given a model with a column no migration creates
    from sqlalchemy import Column, Integer, MetaData

    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["orders"].append_column(Column("forgotten", Integer))
    monkeypatch.setattr(Base, "metadata", metadata)
    await asyncio.to_thread(upgrade, empty_database)
    # then the comparison reports it
    differences = await schema_differences(empty_database)
    assert [d[0] for d in differences] == ["add_column"]
