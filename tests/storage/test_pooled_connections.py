"""PostgreSQL's pooled connections (storage.database): one the server closed is replaced when
it is taken from the pool, and no transaction begins with a round trip to ask the server
whether its connection is alive (issue 15: SQLAlchemy's pre-ping cost three)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import create_engine

GOODBYE_WAIT_S = 10  # for the event loop to read the server's goodbye, on a busy machine


async def backend_pid(engine) -> tuple[int, asyncpg.Connection]:
    async with engine.connect() as connection:
        pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        return pid, (await connection.get_raw_connection()).driver_connection


async def terminate(url: str, pid: int) -> None:
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()


async def test_a_connection_the_server_closed_is_replaced_when_taken(postgres_database):
    engine = create_engine(postgres_database, pool_size=1)
    try:
        # given the pool's one connection, ended by the server (as a restart ends them all)
        first, pooled = await backend_pid(engine)
        await terminate(postgres_database, first)
        for _ in range(GOODBYE_WAIT_S * 100):
            if pooled.is_closed():
                break
            await asyncio.sleep(0.01)
        assert pooled.is_closed()
        # when a transaction runs
        async with engine.begin() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        # then it ran on a new connection, not on the closed one (which would have failed)
        assert second != first
    finally:
        await engine.dispose()


async def test_a_transaction_asks_the_server_nothing_before_it_begins(
    postgres_database, monkeypatch
):
    engine = create_engine(postgres_database, pool_size=1)
    sent: list[str] = []
    execute, fetchrow = asyncpg.Connection.execute, asyncpg.Connection.fetchrow

    async def counted_execute(self, query, *args, **kwargs):
        sent.append(query)
        return await execute(self, query, *args, **kwargs)

    async def counted_fetchrow(self, query, *args, **kwargs):
        sent.append(query)
        return await fetchrow(self, query, *args, **kwargs)

    try:
        await backend_pid(engine)  # the pool holds a connection already
        monkeypatch.setattr(asyncpg.Connection, "execute", counted_execute)
        monkeypatch.setattr(asyncpg.Connection, "fetchrow", counted_fetchrow)
        # when a transaction takes it from the pool
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        monkeypatch.undo()
        await engine.dispose()
    # then the only simple queries were its BEGIN and COMMIT (a pre-ping adds a BEGIN, an
    # empty query and a ROLLBACK before them)
    assert [query.split()[0].rstrip(";") for query in sent] == ["BEGIN", "COMMIT"], sent


pytestmark = pytest.mark.postgres
