"""SQLite's writers in a queue: first come, first served, one at a time.

SQLite has one writer at a time. Without a queue, every write transaction's `BEGIN IMMEDIATE`
that finds the database locked sleeps in SQLite's busy handler and tries again (1, 2, 5, 10,
... up to 100 ms apart): whoever happens to try right after a commit wins, and under load
some transactions wait for seconds while newer ones pass them (storefront API p99 2.7 s at
32 requests in flight). Here the write transactions of one engine take turns, fairly
(FIFO), before `BEGIN IMMEDIATE`, and give it back when their COMMIT or
ROLLBACK has finished. SQLite's busy handler still arbitrates between processes.

Transactions that only read (`storage.database.reading`) do not queue: WAL gives them a
snapshot. A free turn is taken at once, without awaiting anything (`Turns`): nearly every
write transaction finds it free, and awaiting even a free asyncio.Lock from SQLAlchemy's
"begin" listener costs two greenlet switches and a timeout's timer (~2% of a status
change's CPU, issue 15). A writer waits at most the busy timeout for its turn, then fails
as SQLite would ("database is locked"), so code that retries a busy database keeps working.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections import deque
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only
from sqlalchemy.util._concurrency_py3k import in_greenlet


class Turns:
    """One writer at a time, first come first served, as an asyncio.Lock would give them,
    but a free turn is taken without awaiting. A turn given back goes straight to the
    first writer still waiting."""

    def __init__(self) -> None:
        self.taken = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    def take_now(self) -> bool:
        """Take the turn if it is free and nobody waits for it."""
        if self.taken or self._waiting:
            return False
        self.taken = True
        return True

    async def take(self, seconds: float) -> None:
        """Wait for the turn at most `seconds` (TimeoutError)."""
        if self.take_now():
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(seconds):
                await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.give_back()  # handed over just as the wait ended: pass it on
            else:
                turn.cancel()
                self._waiting.remove(turn)
            raise

    def give_back(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the next writer's turn: it stays taken
                return
        self.taken = False


class WriteQueue:
    """One engine's queue of write transactions (turns per event loop)."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = (
            weakref.WeakKeyDictionary()
        )
        self._held: dict[int, Turns] = {}  # id of the DBAPI connection -> its turns

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for this connection's turn to write (called in the engine's "begin")."""
        if not in_greenlet():  # used synchronously (no event loop): SQLite's own locking
            return
        key = id(dbapi_connection)
        if key in self._held:
            return
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = Turns()
        if not turns.take_now():
            try:
                await_only(turns.take(self.timeout))
            except TimeoutError as error:
                raise OperationalError(
                    "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
                ) from error
        self._held[key] = turns

    def leave(self, dbapi_connection: Any) -> None:
        """The transaction ended (COMMIT or ROLLBACK done, or the connection closed)."""
        turns = self._held.pop(id(dbapi_connection), None)
        if turns is not None:
            turns.give_back()


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
