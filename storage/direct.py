"""Statements built once, run straight on the database's connection inside a write transaction.

Every status change writes the same few rows (the order's status, its audit events, timers,
the outbox, ledger entries) with statements built once at import. Through the session each
costs SQLAlchemy's whole execution path, 35-100 µs of Python per statement on this stack
(result objects, an execution context, a greenlet switch, parameter processing), where
SQLite itself takes 10-40 µs and the same statement on the sqlite3 connection about 2 µs
more (issue 15: a change runs six to eight of them). Here such a statement is compiled once
for the dialect, its parameters converted by the same bind processors SQLAlchemy would use
(dates, JSON, sealed values), and run on the sqlite3 connection right away.

On SQLite only where storage/sqlite_driver.py runs statements on the event loop's thread
already: in a write transaction (after `BEGIN IMMEDIATE`), where nothing can make the
statement wait. On PostgreSQL in any transaction of a session: when the session has not
begun asyncpg's transaction yet (it begins lazily), the first statement here begins it, as
the adapter's cursor would (a change's first statement is its locked read); the statement is
prepared and cached by the same adapter SQLAlchemy uses, so both ways share one prepared
statement per connection; through the session it cost ~150 µs more CPU per statement than
on asyncpg (measured, issue 15). Everywhere else (a transaction that only reads on SQLite,
SQLAlchemy's stock SQLite adapter, an engine in autocommit) the statement goes through the
session as before, so callers need not know which way it went. A statement whose compiled
form needs what only SQLAlchemy's execution computes (a column default or onupdate made in
Python) always goes through the session too. A read (`rows`) comes back as plain tuples of
the values SQLAlchemy would give, each column converted by its type's result processor here
(dates, JSON, sealed values) as SQLAlchemy converts them; on PostgreSQL by the processor for
the type the server described the column as (a numeric becomes a float or stays a Decimal
by it), as SQLAlchemy picks it from the cursor's description.

What stays the same: the statement runs in the session's transaction on its connection;
errors are SQLAlchemy's (`IntegrityError`, `OperationalError`, wrapped as its execution
would); the engine's `before_cursor_execute` and `after_cursor_execute` listeners see it
(tests and benches count statements with them). What it leans on: the compiled statement's
`_bind_processors` (SQLAlchemy 2.0, pinned), storage/sqlite_driver.py's adapter, and the
asyncpg adapter's transaction flag and start, statement cache, lock and error translation.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import DateTime, Select, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.expression import TableClause
from sqlalchemy.sql.util import find_tables

from storage import held

Parameters = Mapping[str, Any]

# session.info key: (the session's transaction, its writer or None), found once per transaction.
_WRITER = "shopbot.direct.writer"


@dataclass(frozen=True)
class Done:
    """What a statement run here reports, as a CursorResult would."""

    rowcount: int
    lastrowid: int | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # The parameters in the order of the SQL's `?`, each with its bind processor or None.
    steps: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    defaults: Mapping[str, Any]  # parameters with a value in the statement itself
    # A read's result processors on SQLite: (column's position, processor) for the columns
    # that convert (None: none does).
    converters: tuple[tuple[int, Callable[[Any], Any]], ...] | None
    result_types: tuple[Any, ...]  # a read's columns' types, in order
    # On PostgreSQL, a read's converters for the columns as the server described them
    # (PostgresWriter), by the description's identity: the adapter keeps one description per
    # prepared statement and connection. Each entry holds its description, so no other
    # object can take its id while it is here.
    described: dict[int, tuple[Any, Any]] = field(default_factory=dict)

    def row(self, parameters: Parameters) -> tuple:
        defaults = self.defaults
        values = []
        for name, processor in self.steps:
            value = parameters[name] if name in parameters else defaults[name]
            values.append(value if processor is None else processor(value))
        return tuple(values)


class _LastInstant:
    """The last instant converted for one column type on one database, shared by every
    statement's processor for that type: a change writes the same instant (its clock
    reading) into most of its rows, and SQLite's conversion to text costs ~2.6 µs each time
    (issue 15). Only the very same datetime object is answered from memory (datetimes
    cannot change); anything else is converted."""

    def __init__(self) -> None:
        self.last: tuple[Any, Any] = (None, None)

    def remembering(self, processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def process(value: Any) -> Any:
            seen, converted = self.last
            if value is seen and value is not None:
                return converted
            converted = processor(value)
            if type(value) is datetime:
                self.last = (value, converted)  # one assignment: the pair stays a pair
            return converted

        return process


# Per (database, column type as written): types that print alike convert alike.
_instants: dict[tuple[str, str], _LastInstant] = {}


def _processor(
    processor: Callable[[Any], Any] | None, bind: Any, dialect: Dialect
) -> Callable[[Any], Any] | None:
    if processor is None or bind.type._type_affinity is not DateTime:
        return processor
    shared = _instants.setdefault((dialect.name, repr(bind.type)), _LastInstant())
    return shared.remembering(processor)


# Per (database, statement, parameter names): its compiled form, or None when it must go
# through the session. Statements here are module-level constants, so the cache stays small.
_compiled: dict[tuple[str, Executable, tuple[str, ...]], _Compiled | None] = {}


def _compile(statement: Executable, keys: tuple[str, ...], dialect: Dialect) -> _Compiled | None:
    cache_key = (dialect.name, statement, keys)
    if cache_key in _compiled:
        return _compiled[cache_key]
    # As for several rows: no RETURNING added for the primary key, which nobody reads here.
    compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=True)
    made_in_python = compiled.insert_prefetch or compiled.update_prefetch
    # As SQLAlchemy's result converts each column of a row read back (SQLite's cursor
    # describes no types, so it passes None for them too).
    result_types = tuple(column.type for column in compiled._result_columns)
    # SQLite's cursor describes no types: its converters are known now. PostgreSQL's depend
    # on the types the server describes (PostgresWriter finds them at the first run).
    converters = (
        _converters(result_types, (None,) * len(result_types), dialect)
        if dialect.name == "sqlite"
        else None
    )
    names = compiled.positiontup
    found = None
    # Expanding IN lists are rendered per execution: SQLAlchemy's to do.
    if not made_in_python and names is not None and "POSTCOMPILE" not in compiled.string:
        defaults = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if name not in keys and not bind.required
        }
        processors = compiled._bind_processors
        steps = tuple(
            (name, _processor(processors.get(name), compiled.binds[name], dialect))
            for name in names
        )
        found = _Compiled(compiled.string, steps, defaults, converters, result_types)
    _compiled[cache_key] = found
    return found


def _converters(
    result_types: Sequence[Any], described: Sequence[Any], dialect: Dialect
) -> tuple[tuple[int, Callable[[Any], Any]], ...] | None:
    """As SQLAlchemy's result converts each column of a row read back: the processor of its
    type for the type the cursor described (SQLite's describes none), for those that
    convert; None: none does."""
    found = tuple(
        (position, processor)
        for position, (kind, coltype) in enumerate(zip(result_types, described, strict=True))
        if (processor := kind._cached_result_processor(dialect, coltype)) is not None
    )
    return found or None


def _converted(
    fetched: list, converters: tuple[tuple[int, Callable[[Any], Any]], ...] | None
) -> list[tuple]:
    """The rows as plain tuples, each converting column converted."""
    if converters is None:
        return fetched if not fetched or type(fetched[0]) is tuple else list(map(tuple, fetched))
    converted = []
    for row in fetched:
        values = list(row)
        for position, convert in converters:
            values[position] = convert(values[position])
        converted.append(tuple(values))
    return converted


class _Bound(NamedTuple):
    sql: str
    arguments: Any
    many: bool
    compiled: _Compiled


class _Writer:
    """A session's write transaction, as its driver's connection sees it."""

    def __init__(self, connection: Connection, adapted: Any):
        self._connection = connection  # SQLAlchemy's, for its dialect and listeners
        self._adapted = adapted  # the driver's connection as SQLAlchemy adapted it

    def _bound(
        self, statement: Executable, parameters: Parameters | Sequence[Parameters]
    ) -> _Bound | Done | None:
        """The SQL, its arguments as the driver takes them (a row, or a list of rows),
        whether there are several and the read's converters; Done: no rows, nothing to run;
        None: through the session."""
        many = not isinstance(parameters, Mapping)
        rows = list(parameters) if many else [parameters]
        if not rows:
            return Done(0, None)
        compiled = _compile(statement, tuple(sorted(rows[0])), self._connection.dialect)
        if compiled is None:
            return None
        try:
            values = [compiled.row(row) for row in rows]
        except Exception as error:  # a value its type refuses: wrapped as SQLAlchemy wraps it
            raise StatementError(
                f"({type(error).__module__}.{type(error).__qualname__}) {error}",
                compiled.sql,
                parameters,
                error,
                ismulti=many,
            ) from error
        return _Bound(compiled.sql, values if many else values[0], many, compiled)

    def _before(self, sql: str, arguments: Any, many: bool) -> None:
        connection = self._connection
        connection.dispatch.before_cursor_execute(connection, None, sql, arguments, None, many)

    def _after(self, sql: str, arguments: Any, many: bool) -> None:
        connection = self._connection
        connection.dispatch.after_cursor_execute(connection, None, sql, arguments, None, many)

    def _wrapped(self, sql: str, arguments: Any, error: Exception, many: bool) -> DBAPIError:
        """The driver's error as SQLAlchemy's execution would have raised it."""
        dialect = self._connection.dialect
        return DBAPIError.instance(
            sql, arguments, error, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=many
        )


class SqliteWriter(_Writer):
    """The sqlite3 connection of a session's write transaction."""

    @property
    def writing(self) -> bool:
        return self._adapted._writing

    async def execute(
        self, statement: Executable, parameters: Parameters | Sequence[Parameters]
    ) -> Done | None:
        """Run it here (nothing in it waits: the write lock is this connection's); None: it
        must go through the session."""
        bound = self._bound(statement, parameters)
        if not isinstance(bound, tuple):
            return bound
        return self._run(bound, lambda cursor: Done(cursor.rowcount, cursor.lastrowid))

    async def rows(self, statement: Executable, parameters: Parameters) -> list[tuple] | None:
        """A read's rows, as plain tuples of converted values; None: it must go through the
        session."""
        bound = self._bound(statement, parameters)
        if not isinstance(bound, tuple):
            return None
        return _converted(self._run(bound, sqlite3.Cursor.fetchall), bound.compiled.converters)

    def _run(self, bound: _Bound, outcome: Callable[[sqlite3.Cursor], Any]) -> Any:
        """The statement on the sqlite3 connection, with the listeners told: what `outcome`
        reads off its cursor."""
        sql, arguments, many = bound.sql, bound.arguments, bound.many
        self._before(sql, arguments, many)
        sqlite = self._adapted._connection._conn
        try:
            cursor = sqlite.executemany(sql, arguments) if many else sqlite.execute(sql, arguments)
        except sqlite3.Error as error:
            raise self._wrapped(sql, arguments, error, many) from error
        try:
            found = outcome(cursor)
        finally:
            cursor.close()
        self._after(sql, arguments, many)
        return found

    async def inserted_ids(
        self, statement: Executable, rows: Sequence[Parameters]
    ) -> list[int] | None:
        """Insert the rows one by one (SQLite's RETURNING does not promise the rows' order
        for several): their ids, or None when the statement must go through the session."""
        ids = []
        for row in rows:
            done = await self.execute(statement, row)
            if done is None:
                return None  # decided by the row's keys, the same for every row: none ran
            ids.append(done.lastrowid)
        return ids


# A statement's descriptions remembered at most (one per connection it was prepared on).
_DESCRIPTIONS_KEPT = 64

# asyncpg's status message of a statement: "UPDATE 3", "INSERT 0 1", "DELETE 0".
_ROWCOUNT = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


class PostgresWriter(_Writer):
    """asyncpg's connection of a session's transaction."""

    @property
    def writing(self) -> bool:
        # A transaction to run in: asyncpg's, begun here by the first statement when the
        # session has not begun it yet (`_run`, as the adapter's cursor begins it). On an
        # engine in autocommit there is none: each statement goes through the session.
        return not self._adapted.autocommit

    async def execute(
        self, statement: Executable, parameters: Parameters | Sequence[Parameters]
    ) -> Done | None:
        """Run it here; None: it must go through the session."""
        bound = self._bound(statement, parameters)
        if not isinstance(bound, tuple):
            return bound
        _, status, _ = await self._run(bound.sql, bound.arguments, bound.many)
        found = _ROWCOUNT.match(status or "")  # none for several rows, as in SQLAlchemy
        return Done(int(found.group(1)) if found else -1, None)

    async def rows(self, statement: Executable, parameters: Parameters) -> list[tuple] | None:
        """A read's rows, as plain tuples of the values SQLAlchemy gives; None: it must go
        through the session."""
        bound = self._bound(statement, parameters)
        if not isinstance(bound, tuple):
            return None
        returned, _, described = await self._run(bound.sql, bound.arguments, bound.many)
        return _converted(returned, self._converters(bound, described))

    def _converters(
        self, bound: _Bound, described: Sequence[Any] | None
    ) -> tuple[tuple[int, Callable[[Any], Any]], ...] | None:
        """The read's converters for the types the server described its columns as (their
        oids: a PostgreSQL numeric converts by whether it is a float or a decimal, say), as
        SQLAlchemy's result finds them from the cursor's description."""
        if not described:
            return None
        known = bound.compiled.described
        found = known.get(id(described))
        if found is not None and found[0] is described:
            return found[1]
        if len(known) >= _DESCRIPTIONS_KEPT:  # connections come and go; theirs with them
            known.clear()
        oids = [attribute.type.oid for attribute in described]
        converters = _converters(bound.compiled.result_types, oids, self._connection.dialect)
        known[id(described)] = (described, converters)
        return converters

    async def inserted_ids(
        self, statement: Executable, rows: Sequence[Parameters]
    ) -> list[int] | None:
        """One row's id by its INSERT with RETURNING, run here; None for several (one
        statement through the session takes them all in one round trip)."""
        if len(rows) != 1:
            return None
        bound = self._bound(_returning_ids(statement), rows[0])
        if bound is None:
            return None
        returned, _, _ = await self._run(bound.sql, bound.arguments, bound.many)
        return [returned[0][0]]

    async def _run(
        self, sql: str, arguments: Any, many: bool
    ) -> tuple[list, str | None, Sequence[Any] | None]:
        """The rows, status message and described columns of one statement on asyncpg,
        under the adapter's lock as its cursor takes it (one statement at a time on the
        connection, whichever way it came), in the transaction it begins as the cursor
        begins it, prepared through the adapter's cache (so both ways share one prepared
        statement), with the listeners told and errors translated as SQLAlchemy's are."""
        adapted = self._adapted
        schema_as_of = self._connection.dialect._invalidate_schema_cache_asof
        self._before(sql, arguments, many)
        async with adapted._execute_mutex:
            try:
                if not adapted._started:
                    await adapted._start_transaction()
                if many:
                    await adapted._check_type_cache_invalidation(schema_as_of)
                    await adapted._connection.executemany(sql, arguments)
                    returned, status, described = [], None, None
                else:
                    ready, described = await adapted._prepare(sql, schema_as_of)
                    returned, status = await ready.fetch(*arguments), ready.get_statusmsg()
            except Exception as error:
                try:
                    adapted._handle_exception(error)  # raises the DB-API's translation
                except self._connection.dialect.loaded_dbapi.Error as translated:
                    raise self._wrapped(sql, arguments, translated, many) from error
                raise
        self._after(sql, arguments, many)
        return returned, status, described


# The tables a read built once reads (None: not known, as for a text statement).
_tables_read: dict[Executable, frozenset[str] | None] = {}


def _read_tables(statement: Executable) -> frozenset[str] | None:
    found = _tables_read.get(statement, False)
    if found is False:
        tables = (
            # Joins are traversed for their tables; the Join objects themselves are left out.
            frozenset(t.name for t in find_tables(statement) if isinstance(t, TableClause))
            if isinstance(statement, Select)
            else None
        )
        found = _tables_read[statement] = tables or None
    return found


# An INSERT built once, with its primary key returned: built once per statement too.
_with_ids: dict[Executable, Executable] = {}


def _returning_ids(statement: Executable) -> Executable:
    found = _with_ids.get(statement)
    if found is None:
        found = _with_ids[statement] = statement.returning(*statement.table.primary_key)
    return found


async def writer(session: AsyncSession) -> SqliteWriter | PostgresWriter | None:
    """The session's transaction's writer: on SQLite through storage.sqlite_driver, or on
    PostgreSQL through asyncpg; None otherwise. Found once per transaction."""
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return None
    known = session.info.get(_WRITER)
    if known is not None and known[0] is transaction:
        return known[1]
    connection = (await session.connection()).sync_connection
    adapted = connection.connection.dbapi_connection
    kind = (connection.dialect.name, connection.dialect.driver)
    found = None
    if kind == ("sqlite", "aiosqlite") and hasattr(adapted, "_writing"):
        found = SqliteWriter(connection, adapted)
    elif kind == ("postgresql", "asyncpg"):
        found = PostgresWriter(connection, adapted)
    session.info[_WRITER] = (transaction, found)
    return found


def _forget_writer(session: Session, transaction: Any) -> None:
    """The writer ends with its transaction. Kept in the session's `info` beside the
    transaction, which refers back to the session, it made a reference cycle that outlived
    the session: every transaction's session, connection and their event dispatchers (47
    objects) left for the garbage collector instead of freed as the session closed."""
    if transaction.parent is None:
        session.info.pop(_WRITER, None)


event.listen(Session, "after_transaction_end", _forget_writer)


async def _writing(session: AsyncSession) -> SqliteWriter | PostgresWriter | None:
    """The session's writer while its write transaction is open, else None."""
    if session.sync_session.in_nested_transaction():
        # A savepoint of the ORM's is opened on the connection by the session's own next
        # statement: statements run here would land outside it.
        return None
    found = await writer(session)
    return found if found is not None and found.writing else None


async def execute(
    session: AsyncSession, statement: Executable, parameters: Parameters | Sequence[Parameters]
) -> Any:
    """Run a statement built once (no RETURNING) in the session's transaction: here when its
    write transaction is open, else through the session. Returns something with `rowcount`.
    Writes held back (storage.held) go first."""
    if held.touching(session, None):
        await held.send(session)
    found = await _writing(session)
    done = await found.execute(statement, parameters) if found is not None else None
    if done is not None:
        return done
    return await session.execute(statement, parameters)


async def rows(session: AsyncSession, statement: Executable, parameters: Parameters) -> list[tuple]:
    """A read built once, in the session's transaction: here when its write transaction
    is open (on PostgreSQL: and none of its columns converts, see the module's docstring),
    else through the session. Its rows as plain tuples of the values SQLAlchemy gives, in
    the statement's order. Writes held back (storage.held) to a table it reads go first."""
    if held.touching(session, _read_tables(statement)):
        await held.send(session)
    found = await _writing(session)
    fetched = await found.rows(statement, parameters) if found is not None else None
    if fetched is not None:
        return fetched
    return [tuple(row) for row in await session.execute(statement, parameters)]


async def inserted_ids(
    session: AsyncSession, statement: Executable, rows: Sequence[Parameters]
) -> list[int] | None:
    """The inserted rows' ids when they were inserted here (see the writers'
    `inserted_ids`); None: insert them through the session (with RETURNING, where the
    database promises the rows' order)."""
    if held.touching(session, None):
        await held.send(session)
    found = await _writing(session)
    return await found.inserted_ids(statement, rows) if found is not None else None
