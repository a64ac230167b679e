"""Engines and session factories; built by the composition root, never at import time."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver
from storage.wal_checkpoints import SAFETY_NET_PAGES
from storage.write_queue import install as install_write_queue

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option marking a transaction that only reads (see `reading`).
READ_ONLY = "shopbot_read_only"
# For benches that compare SQLite adapters: "aiosqlite" gives SQLAlchemy's stock adapter
# (several thread hops per statement) instead of storage/sqlite_driver.py's one hop.
SQLITE_ADAPTER_VARIABLE = "SHOPBOT_SQLITE_ADAPTER"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    pool_size: int = 20,
    write_queue: bool = True,
    one_hop: bool | None = None,
    autocommit: bool = False,
    synchronous_commit: bool = True,
) -> AsyncEngine:
    """`write_queue` (SQLite): write transactions take turns in arrival order
    (storage/write_queue.py) instead of racing in SQLite's busy handler. `one_hop` (SQLite):
    each statement is one hop to the connection's thread (storage/sqlite_driver.py); unset,
    unless SHOPBOT_SQLITE_ADAPTER=aiosqlite asks for SQLAlchemy's stock adapter.
    `autocommit` (PostgreSQL): every statement commits on its own, no BEGIN and COMMIT
    round trips (for single statements that must not wait for a transaction).
    `synchronous_commit` False (PostgreSQL): a commit does not wait for its WAL to reach the
    disk (see services/orders/numbers.py for the one place where that is safe).

    `pool_size` (PostgreSQL): the connections kept open, and the most there will be; beyond
    them a transaction waits for one. An overflow over the pool's size was closed when given
    back to a full pool and opened again at the next burst (a connection's start-up and
    every statement prepared again on it): a storefront burst of 2,100 orders opened 162
    connections with 10 kept and 10 overflowing, 19 with 10 kept and none over (issue 15)."""
    if not is_sqlite(url):
        options: dict = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        if not synchronous_commit:
            options["connect_args"] = {"server_settings": {"synchronous_commit": "off"}}
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, **options)
        _replace_closed_connections(engine)
        return engine
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    if one_hop is None:
        one_hop = os.environ.get(SQLITE_ADAPTER_VARIABLE, "one-hop") != "aiosqlite"
    options = {"module": sqlite_driver.dbapi()} if one_hop else {}
    connect_args: dict = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    if one_hop:  # a write transaction's statements run on the loop's thread (sqlite_driver)
        connect_args["check_same_thread"] = False
    engine = create_async_engine(url, connect_args=connect_args, **options)
    _tune_sqlite(engine, write_queue, one_hop)
    return engine


def _replace_closed_connections(engine: AsyncEngine) -> None:
    """A pooled connection the server has closed (a restart, an operator's
    `pg_terminate_backend`, an idle timeout) is replaced when it is taken from the pool,
    without a round trip.

    SQLAlchemy's `pool_pre_ping` asks the server instead, before every transaction: on
    asyncpg a BEGIN, an empty query and a ROLLBACK, three round trips where a status change
    makes five to eight (issue 15). asyncpg knows a connection is closed as soon as the event
    loop has read the server's goodbye, which a restart sends, so the connection can say so
    itself. What neither way sees (a connection that dies between the check and its first
    statement) fails that statement as a lost connection, and the caller is told to try
    again, as with the ping."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection, _record, _proxy) -> None:
        if dbapi_connection._connection.is_closed():
            # The pool drops it and checks out another (SQLAlchemy's documented way).
            raise DisconnectionError("the database server closed this pooled connection")


def _tune_sqlite(engine: AsyncEngine, write_queue: bool, one_hop: bool) -> None:
    queue = install_write_queue(engine, SQLITE_BUSY_TIMEOUT_MS / 1000) if write_queue else None

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if one_hop:  # its checkpoints run beside the write path (storage/wal_checkpoints.py)
            cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        # Take the write lock when the transaction starts. A deferred transaction that
        # reads an order and then writes fails with SQLITE_BUSY if another writer got in
        # between; an immediate one waits its turn (busy_timeout) and reads fresh data.
        # Transactions that only read (`reading`) need no lock: WAL gives them a snapshot.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            if queue is not None:
                queue.enter(connection.connection.dbapi_connection)
            connection.exec_driver_sql("BEGIN IMMEDIATE")


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads. On SQLite it does not queue behind writers."""
    async with sessions() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def insert_for(session: AsyncSession, target):
    """An INSERT of `target` (a model or a table) in the session's own dialect, so that
    `on_conflict_do_nothing` / `on_conflict_do_update` work on SQLite and PostgreSQL alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)


async def ping(engine: AsyncEngine) -> None:
    """One round trip to the database; raises when it does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
