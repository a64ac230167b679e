"""The one-hop SQLite adapter (storage/sqlite_driver.py) behaves as SQLAlchemy's stock
aiosqlite adapter, each statement being one hop to the connection's thread.

Every behaviour test runs against both adapters, so a difference between them fails here."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import aiosqlite.core
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage.database import READ_ONLY, create_engine, create_session_factory, reading
from storage.sqlite_driver import OneHopConnection, OneHopDBAPI

metadata = MetaData()
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", String, unique=True, nullable=False),
)


@pytest.fixture(params=[True, False], ids=["one-hop", "stock"])
async def engine(request, tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}", one_hop=request.param)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter (n) VALUES (0)"))
    yield engine
    await engine.dispose()


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """What each call onto an aiosqlite connection's thread ran (every hop goes through
    `Connection._execute`)."""
    seen: list[str] = []
    original = aiosqlite.core.Connection._execute

    def counted(connection, fn, *args, **kwargs):
        seen.append(args[1] if fn.__name__ == "_run" else fn.__name__)
        return original(connection, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return seen


async def test_create_engine_uses_the_one_hop_adapter_unless_told(tmp_path, monkeypatch):
    url = f"sqlite+aiosqlite:///{tmp_path / 'which.db'}"
    chosen = create_engine(url)
    monkeypatch.setenv("SHOPBOT_SQLITE_ADAPTER", "aiosqlite")
    stock = create_engine(url)
    try:
        assert isinstance(chosen.sync_engine.dialect.dbapi, OneHopDBAPI)
        assert not isinstance(stock.sync_engine.dialect.dbapi, OneHopDBAPI)
        async with chosen.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.dbapi_connection, OneHopConnection)
    finally:
        await chosen.dispose()
        await stock.dispose()


async def test_a_write_transaction_hops_to_commit_only_while_the_write_lock_is_free(tmp_path, hops):
    # given
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hops.db'}", one_hop=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        hops.clear()
        # when
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t (n) VALUES (1), (2)"))
            rows = (await connection.execute(text("SELECT n FROM t ORDER BY n"))).all()
        # then: BEGIN IMMEDIATE and the statements ran on the loop's thread, only the COMMIT
        # on the connection's; no cursor, fetch or close hops, and no rollback when the
        # connection goes back to the pool
        assert rows == [(1,), (2,)]
        assert hops == ["commit"]
        # and one that fails hops to roll back, leaving nothing
        hops.clear()
        with pytest.raises(ZeroDivisionError):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t (n) VALUES (3)"))
                1 / 0  # noqa: B018
        assert hops == ["rollback"]
        hops.clear()
        # and a transaction that only reads hops for each statement, as before
        async with engine.connect() as connection:
            reader = await connection.execution_options(**{READ_ONLY: True})
            assert (await reader.execute(text("SELECT count(*) FROM t"))).scalar() == 2
        assert hops == ["BEGIN", "SELECT count(*) FROM t", "rollback"]
    finally:
        await engine.dispose()


async def test_begin_waits_on_the_connections_thread_while_another_process_writes(tmp_path, hops):
    # given another process's connection holding the write lock
    path = tmp_path / "busy.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", one_hop=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (n INTEGER)"))
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (n) VALUES (1)")
        hops.clear()

        async def write() -> int:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t (n) VALUES (2)"))
                return await connection.scalar(text("SELECT count(*) FROM t"))

        # when a write transaction begins, and the other process commits a little later
        writer = asyncio.create_task(write())
        await asyncio.sleep(0.2)  # the loop is free meanwhile: this coroutine runs
        assert not writer.done()
        other.execute("COMMIT")
        other.close()
        # then the BEGIN waited on the connection's thread and saw the other's row
        assert await asyncio.wait_for(writer, 10) == 2
        assert hops == ["BEGIN IMMEDIATE", "commit"]
    finally:
        await engine.dispose()


async def test_a_write_transactions_statements_run_on_the_loops_thread(tmp_path):
    # given: an SQL function telling which thread runs the statement
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'thread.db'}", one_hop=True)

    @event.listens_for(engine.sync_engine, "connect")
    def whose(dbapi_connection, _record) -> None:
        dbapi_connection._connection._conn.create_function(
            "whose", 0, lambda: threading.current_thread().name
        )

    loop_thread = threading.current_thread().name
    try:
        # when / then: a write transaction's statement runs here, a reading one's does not
        async with engine.begin() as connection:
            assert await connection.scalar(text("SELECT whose()")) == loop_thread
        async with reading(create_session_factory(engine)) as session:
            assert await session.scalar(text("SELECT whose()")) != loop_thread
        async with engine.begin() as connection:  # and again after the read
            assert await connection.scalar(text("SELECT whose()")) == loop_thread
    finally:
        await engine.dispose()


async def test_rowcount_lastrowid_returning_and_executemany(engine):
    async with engine.begin() as connection:
        first = await connection.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert first.lastrowid == 1 and first.rowcount == 1

        returned = await connection.execute(
            insert(notes).values(body="b").returning(notes.c.id, notes.c.body)
        )
        assert returned.all() == [(2, "b")]

        many = await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"),
            [{"body": "c"}, {"body": "d"}, {"body": "e"}],
        )
        assert many.rowcount == 3

        updated = await connection.execute(text("UPDATE notes SET body = body || '!'"))
        assert updated.rowcount == 5
        bodies = await connection.scalars(select(notes.c.body).order_by(notes.c.id))
        assert list(bodies) == ["a!", "b!", "c!", "d!", "e!"]


async def test_errors_are_sqlite3s_wrapped_by_sqlalchemy(engine):
    async with engine.connect() as connection:
        await connection.execute(insert(notes).values(body="same"))
        with pytest.raises(IntegrityError) as duplicate:
            await connection.execute(insert(notes).values(body="same"))
        assert isinstance(duplicate.value.orig, sqlite3.IntegrityError)
        await connection.rollback()

        with pytest.raises(OperationalError) as missing:
            await connection.execute(text("SELECT * FROM no_such_table"))
        assert isinstance(missing.value.orig, sqlite3.OperationalError)
        assert "no such table" in str(missing.value.orig)


async def test_a_busy_database_is_operational_error_database_is_locked(engine, tmp_path):
    # given: another process's connection holds the write lock
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with engine.connect() as connection:
            # a reading transaction (plain BEGIN: no wait for the lock) that then writes,
            # with no busy timeout, so SQLite answers at once
            await connection.execution_options(**{READ_ONLY: True})
            await connection.execute(text("PRAGMA busy_timeout=0"))
            # when / then: the exception services/orders/work.py retries
            with pytest.raises(OperationalError) as busy:
                await connection.execute(text("UPDATE counter SET n = n + 1"))
            assert isinstance(busy.value.orig, sqlite3.OperationalError)
            assert "database is locked" in str(busy.value.orig)
            await connection.rollback()
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_failing_statement_rolls_its_transaction_back(engine):
    sessions = create_session_factory(engine)
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await session.execute(insert(notes).values(body="kept?"))
            await session.execute(text("UPDATE counter SET n = 41"))
            await session.execute(insert(notes).values(body="kept?"))  # unique: fails
    # the next writer gets its turn and sees nothing of the failed transaction
    async with sessions() as session, session.begin():
        await session.execute(text("UPDATE counter SET n = n + 1"))
    async with reading(sessions) as session:
        assert list(await session.scalars(select(notes.c.body))) == []
        assert await session.scalar(text("SELECT n FROM counter")) == 1


async def test_concurrent_writers_take_turns_and_lose_no_update(engine):
    sessions = create_session_factory(engine)

    async def increment() -> None:
        # read, yield to the others, write: a lost update unless writers really take turns
        async with sessions() as session, session.begin():
            n = await session.scalar(text("SELECT n FROM counter"))
            await asyncio.sleep(0)
            await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    async def read() -> int:
        async with reading(sessions) as session:
            return await session.scalar(text("SELECT n FROM counter"))

    results = await asyncio.gather(*(increment() for _ in range(20)), *(read() for _ in range(5)))
    assert all(0 <= n <= 20 for n in results[20:])
    async with reading(sessions) as session:
        assert await session.scalar(text("SELECT n FROM counter")) == 20


async def test_a_reading_session_keeps_its_snapshot_while_a_writer_commits(engine):
    sessions = create_session_factory(engine)
    async with reading(sessions) as reader:
        assert await reader.scalar(text("SELECT n FROM counter")) == 0
        async with sessions() as writer, writer.begin():
            await writer.execute(text("UPDATE counter SET n = 7"))
        # the reader's BEGIN made it one transaction: it still sees its snapshot
        assert await reader.scalar(text("SELECT n FROM counter")) == 0
    async with reading(sessions) as reader:
        assert await reader.scalar(text("SELECT n FROM counter")) == 7


async def test_stream_uses_a_server_side_cursor(engine):
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO notes (body) VALUES (:body)"),
            [{"body": f"note {n}"} for n in range(25)],
        )
    async with engine.connect() as connection:
        result = await connection.stream(select(notes.c.id).order_by(notes.c.id))
        ids = [row.id async for row in result]
    assert ids == list(range(1, 26))


async def test_an_in_memory_database(hops):
    engine = create_engine("sqlite+aiosqlite://", one_hop=True)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
            await connection.execute(insert(notes).values(body="in memory"))
        async with engine.connect() as connection:
            assert await connection.scalar(select(notes.c.body)) == "in memory"
        assert hops and "cursor" not in hops  # the stock adapter opens a cursor per statement
    finally:
        await engine.dispose()
