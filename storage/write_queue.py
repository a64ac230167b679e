"""SQLite's writers in a queue: first come, first served, one at a time.

SQLite has one writer at a time. Without a queue, every write transaction's `BEGIN IMMEDIATE`
that finds the database locked sleeps in SQLite's busy handler and tries again (1, 2, 5, 10,
... up to 100 ms apart): whoever happens to try right after a commit wins, and under load
some transactions wait for seconds while newer ones pass them (storefront API p99 2.7 s at
32 requests in flight). Here the write transactions of one engine take an asyncio lock,
which is fair (FIFO), before `BEGIN IMMEDIATE`, and give it back when their COMMIT or
ROLLBACK has finished. SQLite's busy handler still arbitrates between processes.

Transactions that only read (`storage.database.reading`) do not queue: WAL gives them a
snapshot. A writer waits at most the busy timeout for its turn, then fails as SQLite would
("database is locked"), so code that retries a busy database keeps working.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only
from sqlalchemy.util._concurrency_py3k import in_greenlet


class WriteQueue:
    """One engine's queue of write transactions (a lock per event loop)."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._held: dict[int, asyncio.Lock] = {}  # id of the DBAPI connection -> its lock

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for this connection's turn to write (called in the engine's "begin")."""
        if not in_greenlet():  # used synchronously (no event loop): SQLite's own locking
            return
        key = id(dbapi_connection)
        if key in self._held:
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        try:
            await_only(_take(lock, self.timeout))
        except TimeoutError as error:
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            ) from error
        self._held[key] = lock

    def leave(self, dbapi_connection: Any) -> None:
        """The transaction ended (COMMIT or ROLLBACK done, or the connection closed)."""
        lock = self._held.pop(id(dbapi_connection), None)
        if lock is not None and lock.locked():
            lock.release()


async def _take(lock: asyncio.Lock, seconds: float) -> None:
    # asyncio.timeout, not wait_for: wait_for runs the acquire as a task of its own, a loop
    # turn and ~10 us more for every write transaction, nearly all of which find it free.
    async with asyncio.timeout(seconds):
        await lock.acquire()


def install(engine: AsyncEngine, timeout: float) -> WriteQueue:
    """Queue the write transactions of `engine`. Its "begin" listener calls `enter`; the
    dialect's commit, rollback, close and terminate give the turn back after they ran."""
    queue = WriteQueue(timeout)
    dialect = engine.sync_engine.dialect

    def released(name: str) -> None:
        done = getattr(dialect, name)

        def wrapper(connection: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return done(connection, *args, **kwargs)
            finally:
                queue.leave(getattr(connection, "dbapi_connection", connection))

        setattr(dialect, name, wrapper)

    for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
        released(name)
    return queue
