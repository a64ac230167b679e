"""SQLite through aiosqlite with one thread hop per statement, none inside a write transaction.

aiosqlite runs each SQLite connection on its own thread, and every call into that thread is a
hop: queue the call, wake the thread, wake the event loop with the result, each costing CPU
on both threads. SQLAlchemy's aiosqlite adapter makes a hop for each step of a statement
(open a cursor, execute, fetch the rows, close the cursor): 3-4 hops per statement and 28.5
per `OrderService.apply`, where the statements themselves are small (issue 15).

Here a statement is one hop: a plain function runs on the connection's thread, executes the
statement, fetches every row it returns, closes its cursor and hands back rows, description,
rowcount and lastrowid together. Commit and rollback are one hop, or none when no transaction
is open. Everything else is SQLAlchemy's own adapter unchanged (the connection, server-side
cursors for `stream()`, close and terminate), so errors are the same sqlite3 exceptions,
raised through the same `_handle_exception`, and SQLAlchemy wraps them as before ("database
is locked" stays an OperationalError that services/orders/work.py retries). The URL stays
`sqlite+aiosqlite://`; `storage.database.create_engine` passes `dbapi()` as the dialect's
module. tests/storage/test_sqlite_driver.py runs the same cases against both adapters.

Inside a write transaction there is no hop at all: the statement runs right here, on the
event loop's thread. It cannot wait there: this connection holds SQLite's write lock, and in
WAL mode nothing else makes a writer's statement wait (readers never block it); its SQLite
work is tens of microseconds, where a hop costs the loop and the thread together 0.1 to 0.5
ms of CPU (thread wake-ups, the GIL changing hands, the loop woken from its poll). The write
transaction's ends run here too when they cannot wait:

- `BEGIN IMMEDIATE` is tried here with SQLite's busy timeout at zero: the write lock is
  free (this process's writers queue in storage/write_queue.py before they begin, so only
  another process can hold it) and it is taken at once, or SQLite answers "busy" at once and
  the BEGIN goes to the connection's thread, to wait there in the busy handler as before.
- COMMIT writes the transaction's pages to the WAL, no sync (`synchronous=NORMAL`), unless
  it checkpoints, which syncs the disk. So connections do not checkpoint when they commit
  (`PRAGMA wal_autocheckpoint=0`, storage.database) and every `CHECKPOINT_EVERY`th commit
  of an engine goes to the connection's thread and checkpoints there (PASSIVE: it never
  waits for readers), keeping the WAL a few megabytes at most.

Everything in transactions that only read stays on the connection's thread (a long report
must not hold up the loop). The connection is opened with `check_same_thread=False`
(storage.database), and only one side uses it at a time: every hop is awaited before the
next statement.

What this leans on: aiosqlite's `Connection._execute(fn, *args)` (queue `fn` onto the
connection's thread and await it) and `Connection._conn` (the sqlite3 connection), private
names of aiosqlite 0.22 (pinned in the lock files), and SQLAlchemy 2.0's aiosqlite adapter
classes, which this subclasses.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
    AsyncAdaptFallback_aiosqlite_connection,
)

# Commits of one engine between two checkpoints of the WAL, on a connection's thread. A
# status change adds about 10 pages (4 KiB each) to the WAL: a checkpoint every ~4 MiB.
CHECKPOINT_EVERY = 100

# A statement's whole outcome: rows (empty unless it returns rows), description, rowcount,
# lastrowid.
Outcome = tuple[list[Any], Any, int, int | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """On the connection's thread: the statement from execute to its last row."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        if description:
            # As SQLAlchemy's adapter reports a statement that returns rows (RETURNING too).
            return cursor.fetchall(), description, -1, -1
        return [], None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _begin_here(connection: sqlite3.Connection) -> bool:
    """`BEGIN IMMEDIATE` on the event loop's thread if the write lock is free now; False:
    another process holds it (SQLite answered "busy" without waiting), nothing was begun."""
    busy_ms = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute("PRAGMA busy_timeout=0")
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return False
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    return True


def _commit(connection: sqlite3.Connection, checkpoint: bool) -> None:
    """On the connection's thread: COMMIT, then a WAL checkpoint when one is due."""
    connection.commit()
    if checkpoint:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


_BEGUN: Outcome = ([], None, -1, None)


async def _here(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> Outcome:
    """On the event loop's thread, inside a write transaction (see the module's docstring)."""
    return _run(connection, operation, parameters, many)


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose execute is one hop; rows are then served from memory by
    the base class (fetchone, fetchmany, fetchall, iteration)."""

    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._hop(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._hop(operation, seq_of_parameters, True)

    def _hop(self, operation: Any, parameters: Any, many: bool) -> None:
        adapted = self._adapt_connection
        try:
            connection = self._connection
            if adapted._writing:
                # Awaited all the same: SQLAlchemy's async layer insists that a statement
                # awaited something, and a coroutine that returns at once costs no loop turn.
                outcome = self.await_(_here(connection._conn, operation, parameters, many))
            elif operation == "BEGIN IMMEDIATE" and _begin_here(connection._conn):
                adapted._writing = True
                outcome = _BEGUN
            else:
                outcome = self.await_(
                    connection._execute(_run, connection._conn, operation, parameters, many)
                )
                if operation == "BEGIN IMMEDIATE":
                    adapted._writing = True
            rows, self.description, self.rowcount, self.lastrowid = outcome
            self._rows = deque(rows)
        except Exception as error:
            adapted._handle_exception(error)


class _OneHop:
    """What the one-hop connections change in SQLAlchemy's adapter connection."""

    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        # A server-side cursor (`stream()`) fetches in batches, a hop each: SQLAlchemy's own.
        if server_side:
            return AsyncAdapt_aiosqlite_ss_cursor(self)
        return OneHopCursor(self)

    # SQLAlchemy rolls a connection back when it goes back to the pool, even after a commit
    # (`Connection.close` after `engine.begin()`, a session's close): a hop for nothing, since
    # sqlite3's commit and rollback do nothing outside a transaction. Whether one is open is
    # a flag of the sqlite3 connection, read here while its thread is idle (every hop has
    # been awaited).
    def commit(self) -> None:
        writing, self._writing = self._writing, False
        if not self._in_transaction():
            return
        checkpoint = writing and self.dbapi.checkpoint_due()
        try:
            if writing and not checkpoint:
                self._connection._conn.commit()  # pages into the WAL, no sync: right here
            else:
                self.await_(self._connection._execute(_commit, self._connection._conn, checkpoint))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        writing, self._writing = self._writing, False
        if not self._in_transaction():
            return
        if not writing:
            super().rollback()
            return
        try:  # a write transaction's pages are dropped, nothing is written: right here
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)

    def _in_transaction(self) -> bool:
        try:
            return self._connection._conn.in_transaction
        except Exception as error:  # closed: "no active connection", as the stock adapter says
            self._handle_exception(error)


class OneHopConnection(_OneHop, AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_writing",)  # in a write transaction: statements run on the loop's thread


class OneHopFallbackConnection(_OneHop, AsyncAdaptFallback_aiosqlite_connection):
    """The same for SQLAlchemy's sync-over-async fallback (`async_fallback=True`)."""

    __slots__ = ("_writing",)


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect talks to, handing out one-hop
    connections. One per engine: it counts the engine's commits for the checkpoints."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self._commits = 0

    def checkpoint_due(self) -> bool:
        """A write transaction commits: is it the one that checkpoints the WAL?"""
        self._commits += 1
        return self._commits % CHECKPOINT_EVERY == 0

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*args, **kwargs)
        kind = (
            OneHopFallbackConnection
            if isinstance(stock, AsyncAdaptFallback_aiosqlite_connection)
            else OneHopConnection
        )
        connection = kind(self, stock._connection)
        connection._writing = False
        return connection


def dbapi() -> OneHopDBAPI:
    return OneHopDBAPI(aiosqlite, sqlite3)
