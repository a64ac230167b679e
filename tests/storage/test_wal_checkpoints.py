"""SQLite's WAL checkpointed beside the write path (storage/wal_checkpoints.py): after every
so many write commits of an engine, on a thread and a connection of its own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest
from sqlalchemy import text

from storage import wal_checkpoints
from storage.database import create_engine, create_session_factory, reading
from storage.wal_checkpoints import SAFETY_NET_PAGES, _checkpoint


def in_database_file(path) -> list[str]:
    """The notes as the database file itself holds them, the WAL ignored (`immutable`)."""
    connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT body FROM notes ORDER BY id")]
    except sqlite3.OperationalError:  # not even the table has reached the file yet
        return []
    finally:
        connection.close()


async def write(engine, body: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": body})


async def test_every_so_many_write_commits_the_wal_reaches_the_database_file(tmp_path, monkeypatch):
    monkeypatch.setattr(wal_checkpoints, "CHECKPOINT_EVERY", 3)
    path = tmp_path / "shop.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    checkpoints = engine.sync_engine.dialect.loaded_dbapi.checkpoints
    try:
        async with engine.begin() as connection:  # write commit 1
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)"))
        await write(engine, "first")  # 2
        async with reading(create_session_factory(engine)) as session:  # reads: not counted
            await session.execute(text("SELECT count(*) FROM notes"))

        # before the third write commit everything is in the WAL only
        assert checkpoints.running is None
        assert in_database_file(path) == []

        await write(engine, "second")  # 3: a checkpoint starts, and the commit does not wait
        assert checkpoints.running is not None
        await asyncio.wrap_future(checkpoints.running)
        assert in_database_file(path) == ["first", "second"]
    finally:
        await engine.dispose()


async def test_its_connections_checkpoint_themselves_only_as_a_safety_net(tmp_path):
    one_hop = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", one_hop=True)
    stock = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", one_hop=False)
    try:
        async with one_hop.connect() as connection:
            pages = await connection.scalar(text("PRAGMA wal_autocheckpoint"))
            assert pages == SAFETY_NET_PAGES
        # the stock adapter has no checkpoints of ours: SQLite's own threshold stays
        async with stock.connect() as connection:
            assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == 1000
    finally:
        await one_hop.dispose()
        await stock.dispose()


async def test_a_database_in_memory_has_no_checkpoints(monkeypatch):
    monkeypatch.setattr(wal_checkpoints, "CHECKPOINT_EVERY", 1)
    engine = create_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)"))
        await write(engine, "kept")
        assert engine.sync_engine.dialect.loaded_dbapi.checkpoints.running is None
    finally:
        await engine.dispose()


def test_a_checkpoint_that_cannot_run_changes_nothing_and_raises_nothing(tmp_path, caplog):
    # when another connection holds the file in exclusive locking mode
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)")
    holder.execute("INSERT INTO notes (body) VALUES ('held')")
    try:
        with caplog.at_level(logging.WARNING, logger="storage.wal_checkpoints"):
            _checkpoint(str(path), uri=False)
        # then it is logged, and the holder's data is as it was
        assert "checkpoint failed" in caplog.text
        assert holder.execute("SELECT body FROM notes").fetchall() == [("held",)]
    finally:
        holder.close()


@pytest.mark.parametrize("database", [":memory:", "file:shop?mode=memory&cache=shared", ""])
def test_databases_in_memory_are_not_on_disk(database):
    assert not wal_checkpoints._on_disk(database)


def test_a_checkpoint_of_a_file_gone_creates_nothing(tmp_path):
    gone = tmp_path / "gone.db"
    _checkpoint(str(gone), uri=False)
    assert not gone.exists()
