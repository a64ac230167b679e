"""Statements built once, run straight on SQLite's connection inside a write transaction.

Every status change writes the same few rows (the order's status, its audit events, timers,
the outbox, ledger entries) with statements built once at import. Through the session each
costs SQLAlchemy's whole execution path, 35-100 µs of Python per statement on this stack
(result objects, an execution context, a greenlet switch, parameter processing), where
SQLite itself takes 10-40 µs and the same statement on the sqlite3 connection about 2 µs
more (issue 15: a change runs six to eight of them). Here such a statement is compiled once
for the dialect, its parameters converted by the same bind processors SQLAlchemy would use
(dates, JSON, sealed values), and run on the sqlite3 connection right away.

Only where storage/sqlite_driver.py runs statements on the event loop's thread already: in
a write transaction (after `BEGIN IMMEDIATE`), where nothing can make the statement wait.
Everywhere else (PostgreSQL, a transaction that only reads, SQLAlchemy's stock adapter) the
statement goes through the session as before, so callers need not know which way it went.
A statement whose compiled form needs what only SQLAlchemy's execution computes (a column
default or onupdate made in Python) always goes through the session too.

What stays the same: the statement runs in the session's transaction on its connection;
errors are SQLAlchemy's (`IntegrityError`, `OperationalError`, wrapped as its execution
would); the engine's `before_cursor_execute` and `after_cursor_execute` listeners see it
(tests and benches count statements with them). What it leans on: the compiled statement's
`_bind_processors` (SQLAlchemy 2.0, pinned), and storage/sqlite_driver.py's adapter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

Parameters = Mapping[str, Any]

# session.info key: (the session's transaction, its Writer or None), found once per transaction.
_WRITER = "shopbot.direct.writer"


@dataclass(frozen=True)
class Done:
    """What a statement run here reports, as a CursorResult would."""

    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order of the SQL's `?`
    processors: Mapping[str, Any]
    defaults: Mapping[str, Any]  # parameters with a value in the statement itself

    def row(self, parameters: Parameters) -> tuple:
        values = []
        for name in self.names:
            value = parameters[name] if name in parameters else self.defaults[name]
            processor = self.processors.get(name)
            values.append(value if processor is None else processor(value))
        return tuple(values)


# Per (statement, parameter names): its compiled form, or None when it must go through the
# session. Statements here are module-level constants, so the cache stays small.
_compiled: dict[tuple[Executable, tuple[str, ...]], _Compiled | None] = {}


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Compiled | None:
    cache_key = (statement, keys)
    if cache_key in _compiled:
        return _compiled[cache_key]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    made_in_python = compiled.insert_prefetch or compiled.update_prefetch
    names = compiled.positiontup
    found = None
    # Expanding IN lists are rendered per execution: SQLAlchemy's to do.
    if not made_in_python and names is not None and "POSTCOMPILE" not in compiled.string:
        defaults = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if name not in keys and not bind.required
        }
        found = _Compiled(compiled.string, tuple(names), compiled._bind_processors, defaults)
    _compiled[cache_key] = found
    return found


class Writer:
    """The sqlite3 connection of a session's write transaction."""

    def __init__(self, connection: Connection, adapted: Any):
        self._connection = connection  # SQLAlchemy's, for its dialect and listeners
        self._adapted = adapted  # storage.sqlite_driver's adapted connection

    @property
    def writing(self) -> bool:
        return self._adapted._writing

    def run(
        self, statement: Executable, parameters: Parameters | Sequence[Parameters]
    ) -> Done | None:
        """Run it here; None: it must go through the session."""
        many = not isinstance(parameters, Mapping)
        rows = list(parameters) if many else [parameters]
        if not rows:
            return Done(0, None)
        compiled = _compile(statement, tuple(sorted(rows[0])), self._connection.dialect)
        if compiled is None:
            return None
        values = [compiled.row(row) for row in rows]
        sql, arguments = compiled.sql, (values if many else values[0])
        connection = self._connection
        connection.dispatch.before_cursor_execute(connection, None, sql, arguments, None, many)
        try:
            sqlite = self._adapted._connection._conn
            cursor = sqlite.executemany(sql, values) if many else sqlite.execute(sql, values[0])
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                sql, arguments, error, sqlite3.Error, dialect=connection.dialect, ismulti=many
            ) from error
        done = Done(cursor.rowcount, cursor.lastrowid)
        cursor.close()
        connection.dispatch.after_cursor_execute(connection, None, sql, arguments, None, many)
        return done

    def inserted_ids(self, statement: Executable, rows: Sequence[Parameters]) -> list[int] | None:
        """Insert the rows one by one (SQLite's RETURNING does not promise the rows' order
        for several): their ids, or None when the statement must go through the session."""
        ids = []
        for row in rows:
            done = self.run(statement, row)
            if done is None:
                return None  # decided by the row's keys, the same for every row: none ran
            ids.append(done.lastrowid)
        return ids


async def writer(session: AsyncSession) -> Writer | None:
    """The session's transaction's Writer, when it writes to SQLite through
    storage.sqlite_driver; None otherwise. Found once per transaction."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return None
    known = session.info.get(_WRITER)
    if known is not None and known[0] is transaction:
        return known[1]
    connection = (await session.connection()).sync_connection
    adapted = connection.connection.dbapi_connection
    found = (
        Writer(connection, adapted)
        if connection.dialect.name == "sqlite" and hasattr(adapted, "_writing")
        else None
    )
    session.info[_WRITER] = (transaction, found)
    return found


async def _writing(session: AsyncSession) -> Writer | None:
    """The session's Writer while its write transaction is open, else None."""
    found = await writer(session)
    return found if found is not None and found.writing else None


async def execute(
    session: AsyncSession, statement: Executable, parameters: Parameters | Sequence[Parameters]
) -> Any:
    """Run a statement built once (no RETURNING) in the session's transaction: here when it
    writes to SQLite, else through the session. Returns something with `rowcount`."""
    found = await _writing(session)
    done = found.run(statement, parameters) if found is not None else None
    if done is not None:
        return done
    return await session.execute(statement, parameters)


async def inserted_ids(
    session: AsyncSession, statement: Executable, rows: Sequence[Parameters]
) -> list[int] | None:
    """`Writer.inserted_ids` when the session writes to SQLite; None: insert them through
    the session (with RETURNING, where the database promises the rows' order)."""
    found = await _writing(session)
    return found.inserted_ids(statement, rows) if found is not None else None
