"""Writes held back to ride on a transaction's last statement (PostgreSQL).

A status change ends with writes that nothing later in its transaction needs to see in the
database: the order's status row and its audit events, its timers, its ledger entries and
totals, and the outbox's rows. Sent as they come, each is a round trip; held back, they go
together as data-modifying CTEs of one statement at the end (services.orders.unit's
`finish`: the outbox's INSERT), so a change is BEGIN, its reads, one write, COMMIT
(issue 15). SQLite's WITH takes only a SELECT: nothing is held there.

What keeps it right: nothing sees the database without the held writes in it.

- A statement through the session (a query, the ORM's flush, a lazy load, a savepoint)
  sends every held write first, in one statement: the engine's `before_execute` listener.
- A statement of storage.direct sends them first too; a read (`direct.rows`) only those
  touching a table it reads: a write held for another table cannot change what it finds,
  nor can a read break a foreign key.
- The commit sends what is still held; a rollback forgets it (the session's listeners).
- Two writes that may not share a statement (both change one row, or name their
  parameters alike: a key in common) are never held together: holding the second sends
  the first.

A held write's statements and parameters are built when it is sent (`Write.along`), so a
write held early may take values decided later in the transaction (the ledger's totals
ride in the status change's UPDATE of the order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Engine, Executable, Select, event, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.statements import Along

# session.info and connection.info key: the transaction's held writes (one list, shared).
_KEY = "shopbot.held"


@dataclass(frozen=True)
class Write:
    """A write held back: `keys` name what it changes (writes sharing a key are never held
    together: a row they both change, or their parameters' names), `tables` where (a read
    of them sends it first), `along` builds it; `source` is what it was built from, for its
    owner to find again (`find`)."""

    keys: frozenset[str]
    tables: frozenset[str]
    along: Callable[[], Along]
    source: Any = None


async def hold(session: AsyncSession, write: Write) -> None:
    """Keep `write` back to go with the transaction's last statement. The caller has
    checked `storage.statements.joins_writes`."""
    held: list[Write] | None = session.info.get(_KEY)
    if held is None:
        held = session.info[_KEY] = []
        # The engine's listener finds the held writes by the connection it runs on.
        (await session.connection()).sync_connection.info[_KEY] = held
    elif any(not w.keys.isdisjoint(write.keys) for w in held):
        await send(session)
    held.append(write)


def find(session: AsyncSession, key: str) -> Write | None:
    """The write held under `key`, if any."""
    for write in session.info.get(_KEY) or ():
        if key in write.keys:
            return write
    return None


def take(session: AsyncSession) -> Along | None:
    """Every held write, now the caller's to send (as CTEs of its own statement)."""
    return _take(session.info.get(_KEY))


def touching(session: AsyncSession, tables: Iterable[str] | None) -> bool:
    """Whether a held write touches one of `tables` (None: any table)."""
    held = session.info.get(_KEY)
    if not held:
        return False
    if tables is None:
        return True
    return any(not write.tables.isdisjoint(tables) for write in held)


async def send(session: AsyncSession) -> None:
    """Send every held write now, in one statement."""
    along = take(session)
    if along is not None:
        from storage import direct  # storage.direct sends through here

        for statement in _sent(along, session.get_bind().dialect.name):
            await direct.execute(session, statement, along.parameters)


def _sent(along: Along, dialect: str) -> tuple[Executable, ...]:
    """The statements sending `along`: one on PostgreSQL; elsewhere (a write held where it
    cannot ride along: tests hold them anywhere) each on its own, in their order."""
    return (alone(along.statements),) if dialect == "postgresql" else along.statements


@cache
def alone(statements: tuple[Executable, ...]) -> Select:
    """Held writes sent without a statement of their own to ride on: `WITH h0 AS (...),
    h1 AS (...) SELECT 1` (a data-modifying CTE runs whether read or not). Kept per
    shape: storage.direct compiles it once."""
    statement = select(literal(1))
    for index, write in enumerate(statements):
        statement = statement.add_cte(write.cte(f"h{index}"))
    return statement


def _take(held: list[Write] | None) -> Along | None:
    if not held:
        return None
    writes = list(held)
    held.clear()  # first: sending them runs a statement, which must not send them again
    return merged(write.along() for write in writes)


def merged(alongs: Iterable[Along]) -> Along:
    """Several writes' statements and parameters as one (their parameters named apart)."""
    statements: Sequence[Executable] = ()
    parameters: dict[str, Any] = {}
    for along in alongs:
        statements = (*statements, *along.statements)
        if not parameters.keys().isdisjoint(along.parameters):
            raise ValueError("held writes' parameters must be named apart")
        parameters |= along.parameters
    return Along(tuple(statements), parameters)


def _send_before_execute(connection: Connection, *_args: Any) -> None:
    """Every engine's `before_execute` listener: a statement through SQLAlchemy on a
    connection with writes held sends them first (synchronously: SQLAlchemy runs it where
    the asyncio driver may be awaited)."""
    _send_on(connection, _take(connection.info.get(_KEY)))


def _send_before_commit(session: Session) -> None:
    """The sessions' `before_commit` listener: what is still held is sent at the commit."""
    along = _take(session.info.get(_KEY))
    if along is not None:
        _send_on(session.connection(), along)


def _send_on(connection: Connection, along: Along | None) -> None:
    if along is not None:
        for statement in _sent(along, connection.dialect.name):
            connection.execute(statement, dict(along.parameters))


def _forget(session: Session, transaction: Any) -> None:
    """A transaction's held writes end with it: sent at its commit (`_send_before_commit`),
    forgotten at a rollback. Nothing of them may reach the session's next transaction."""
    if transaction.parent is None:
        held = session.info.pop(_KEY, None)
        if held:
            held.clear()  # the connection's reference to the list sees it empty too


event.listen(Engine, "before_execute", _send_before_execute)
event.listen(Session, "before_commit", _send_before_commit)
event.listen(Session, "after_transaction_end", _forget)
