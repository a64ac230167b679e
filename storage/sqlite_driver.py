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

Inside a write transaction (from `BEGIN IMMEDIATE` until its COMMIT or ROLLBACK) there is
no hop at all: the statement runs right here, on the event loop's thread. It cannot wait
there: this connection holds SQLite's write lock, and in WAL mode nothing else makes a
writer's statement wait (readers never block it); its SQLite work is tens of microseconds,
where a hop costs the loop and the thread together 0.1 to 0.5 ms of CPU (thread wake-ups,
the GIL changing hands, the loop woken from its poll).

`BEGIN IMMEDIATE` itself is tried here first, with SQLite's busy timeout at zero: this
process's writers queue before they begin (storage/write_queue.py), so the write lock is
free unless another process holds it; then SQLite answers "busy" at once, and the BEGIN goes
to the connection's thread to wait there in the busy handler as before.

COMMIT (it may checkpoint the WAL, which syncs the disk, though storage/wal_checkpoints.py
does that beside the write path) and ROLLBACK stay on the connection's thread. That hop is
also the write transaction's one turn of the event loop: with none at all, every request
ready at once would run its whole transaction in the same turn of the loop, and timers and
new connections would wait for all of them (the storefront API's loop lag p99 went from
6 ms to 29-88 ms when COMMIT ran here too). Everything in transactions that only read stays
on the connection's thread as well (a long report must not hold up the loop). The
connection is opened with `check_same_thread=False` (storage.database), and only one side
uses it at a time: every hop is awaited before the next statement.

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

from storage.wal_checkpoints import WalCheckpoints

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
        if self._in_transaction():
            super().commit()
            if writing:  # the WAL grew: checkpointed beside the write path
                self.dbapi.checkpoints.committed()

    def rollback(self) -> None:
        self._writing = False
        if self._in_transaction():
            super().rollback()

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
    connections. One per engine: it keeps the engine's WAL checkpoints
    (storage/wal_checkpoints.py)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.checkpoints = WalCheckpoints()

    def connect(self, *args: Any, **kwargs: Any) -> AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*args, **kwargs)
        self.checkpoints.opened(args, kwargs)
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
