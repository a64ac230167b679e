"""Statements built once, run straight on the driver's connection in a write transaction
(storage/direct.py, SQLite and asyncpg): the same rows, the same errors, the same listeners
as through the session; and through the session wherever that way is not open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Numeric, String, bindparam, cast, event, insert, select, text, update
from sqlalchemy.exc import IntegrityError, StatementError

from storage import direct
from storage.database import create_engine, create_session_factory, reading
from storage.models import OutboxMessage
from storage.statements import insert_ignoring
from tests.sql_log import statements_of

_outbox = OutboxMessage.__table__
_COLUMNS = ("dedupe_key", "channel", "audience", "topic", "payload", "state", "attempts")
_COLUMNS += ("next_attempt_at", "created_at")
_INSERT_IGNORING = insert_ignoring(_outbox, _COLUMNS, ("dedupe_key",))
_INSERT = insert(_outbox)
_RETRY = (
    update(_outbox)
    .where(_outbox.c.dedupe_key == bindparam("key"), _outbox.c.state == "pending")
    .values(attempts=bindparam("attempts"), next_attempt_at=bindparam("at"))
)
NOW = datetime(2026, 12, 6, 21, 0, 5, 123456, tzinfo=UTC)


def message(key: str, **changes) -> dict:
    return {
        "dedupe_key": key,
        "channel": "telegram",
        "audience": "buyer",
        "topic": "status_changed",
        "payload": {"status": "paid", "items": [1, 2], "text": "Оплачен ✓"},
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": NOW,
        "created_at": NOW,
    } | changes


async def stored(sessions, key: str) -> OutboxMessage | None:
    async with sessions() as session:
        return await session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))


async def begun(session) -> None:
    """The transaction begun on the server, as a change's first read begins it."""
    await session.execute(text("SELECT 1"))


async def test_rows_written_here_read_back_as_those_written_through_the_session(sessions):
    # when the same row is written both ways, in write transactions
    async with sessions() as session, session.begin():
        await begun(session)
        writer = await direct.writer(session)
        assert writer is not None and writer.writing
        assert await writer.execute(_INSERT_IGNORING, [message("here")]) is not None  # ran here
    async with sessions() as session, session.begin():
        await session.execute(_INSERT_IGNORING, [message("session")])

    # then every column reads back alike: JSON, aware times with their microseconds
    here, through_session = await stored(sessions, "here"), await stored(sessions, "session")
    for column in _COLUMNS[1:]:
        assert getattr(here, column) == getattr(through_session, column), column
    assert here.payload["text"] == "Оплачен ✓"
    assert here.next_attempt_at == NOW


async def test_an_update_reports_its_rowcount_and_keeps_the_statements_own_values(sessions):
    async with sessions() as session, session.begin():
        await direct.execute(session, _INSERT, message("a"))
        await direct.execute(session, _INSERT, message("b", state="sent"))

    # when both rows are retried, only the pending one matches `state == "pending"`
    async with sessions() as session, session.begin():
        await begun(session)
        await direct.execute(
            session,
            _RETRY,
            [{"key": "a", "attempts": 3, "at": NOW}, {"key": "b", "attempts": 3, "at": NOW}],
        )
        pending = await direct.execute(session, _RETRY, {"key": "a", "attempts": 4, "at": NOW})
        sent = await direct.execute(session, _RETRY, {"key": "b", "attempts": 4, "at": NOW})

    assert (pending.rowcount, sent.rowcount) == (1, 0)
    assert (await stored(sessions, "a")).attempts == 4
    assert (await stored(sessions, "b")).attempts == 0


async def test_a_broken_constraint_is_sqlalchemys_integrity_error_and_the_change_rolls_back(
    sessions,
):
    async with sessions() as session, session.begin():
        await direct.execute(session, _INSERT, message("taken"))

    # when a change writes a row, then one whose key is taken
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            await begun(session)
            await direct.execute(session, _INSERT, message("new"))
            await direct.execute(session, _INSERT, message("taken"))

    # then nothing of that change stays
    assert await stored(sessions, "new") is None
    async with sessions() as session:
        assert len((await session.scalars(select(OutboxMessage))).all()) == 1


async def test_the_engines_statement_listeners_see_statements_run_here(sessions, engine):
    with statements_of(engine) as seen:
        async with sessions() as session, session.begin():
            await begun(session)
            await direct.execute(session, _INSERT, message("seen"))
    assert any(s.upper().startswith("INSERT INTO OUTBOX") for s in seen), seen


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_reads_and_python_made_defaults_go_through_the_session(sessions):
    # a transaction that only reads is not SQLite's write transaction
    async with reading(sessions) as session:
        found = await direct.writer(session)
        assert found is None or not found.writing

    async with sessions() as session, session.begin():
        writer = await direct.writer(session)
        assert writer is not None and writer.writing
        # a row leaving out `payload` needs its default made in Python: not run here
        partial = message("partial")
        del partial["payload"]
        assert await writer.execute(_INSERT, partial) is None
        # through the session, by `execute`, it is written with that default
        await direct.execute(session, _INSERT, partial)
    assert (await stored(sessions, "partial")).payload == {}


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_on_postgresql_a_transactions_first_statement_begins_it_here(sessions, engine):
    # when a transaction's first statement is one of these (asyncpg begins it lazily)
    through_session = []
    event.listen(engine.sync_engine, "before_execute", lambda *_: through_session.append(1))
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await direct.execute(session, _INSERT, message("undone"))
            await direct.execute(session, _INSERT, message("undone too"))
            raise RuntimeError("the change fails")
    async with sessions() as session, session.begin():
        await direct.execute(session, _INSERT, message("kept"))

    # then each ran here, not through the session, inside the transaction: what was rolled
    # back is gone, what was committed is there
    assert through_session == []
    assert await stored(sessions, "undone") is None
    assert await stored(sessions, "undone too") is None
    assert await stored(sessions, "kept") is not None


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_on_an_engine_in_autocommit_statements_go_through_the_session(database_url):
    engine = create_engine(database_url, autocommit=True)
    try:
        sessions = create_session_factory(engine)
        async with sessions() as session, session.begin():
            writer = await direct.writer(session)
            assert writer is not None and not writer.writing
            done = await direct.execute(session, _INSERT, message("on its own"))
            assert done.rowcount == 1
        assert await stored(sessions, "on its own") is not None
    finally:
        await engine.dispose()


async def test_inside_a_savepoint_statements_go_where_its_rollback_reaches(sessions, backend):
    async with sessions() as session, session.begin():
        await direct.execute(session, _INSERT, message("taken"))

    # when a statement breaks a constraint inside a savepoint the caller opened
    async with sessions() as session, session.begin():
        await begun(session)
        await direct.execute(session, _INSERT, message("kept"))
        with pytest.raises(IntegrityError) as raised:
            async with session.begin_nested():
                await direct.execute(session, _INSERT, message("taken"))
        # then the savepoint took it back, and the transaction goes on after it
        if backend == "postgres":
            assert raised.value.orig.pgcode == "23505"
        await direct.execute(session, _INSERT, message("after"))
    assert await stored(sessions, "kept") is not None
    assert await stored(sessions, "after") is not None


async def test_inserted_rows_ids_come_back_where_they_were_inserted_here(sessions, backend):
    async with sessions() as session, session.begin():
        await begun(session)
        one = await direct.inserted_ids(session, _INSERT, [message("one")])
        several = await direct.inserted_ids(session, _INSERT, [message("two"), message("three")])

    assert one == [(await stored(sessions, "one")).id]
    if backend == "sqlite":  # one by one, in their order
        assert several == [(await stored(sessions, key)).id for key in ("two", "three")]
    else:  # several in one statement through the session: none of them inserted here
        assert several is None
        assert await stored(sessions, "two") is None


async def test_a_remembered_instant_is_only_ever_the_same_one(sessions):
    # given instants written one after another and back again, as changes write their clock
    # readings (each conversion to text remembered for the next row)
    later = datetime(2027, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    elsewhere = datetime(2026, 12, 7, 3, 0, 5, 123456, tzinfo=timezone(timedelta(hours=3)))
    written = {"t1": NOW, "t2": later, "t3": NOW, "t4": elsewhere, "t5": later}
    async with sessions() as session, session.begin():
        await begun(session)
        for key, instant in written.items():
            row = message(key, next_attempt_at=instant, created_at=NOW)
            assert await direct.execute(session, _INSERT, row) is not None

    # then each row holds its own instant (the one in +03:00 as the same moment in UTC)
    for key, instant in written.items():
        row = await stored(sessions, key)
        assert (row.next_attempt_at, row.created_at) == (instant, NOW), key

    # and a naive time is refused as before, even right after the same wall time, aware
    naive = NOW.replace(tzinfo=None)
    async with sessions() as session, session.begin():
        await begun(session)
        await direct.execute(session, _INSERT, message("t6"))
        with pytest.raises(StatementError, match="naive datetime"):
            await direct.execute(session, _INSERT, message("t7", next_attempt_at=naive))


_KEYS = (
    select(_outbox.c.dedupe_key, _outbox.c.attempts)
    .where(_outbox.c.state == bindparam("state"))
    .order_by(_outbox.c.dedupe_key.desc())
)
_COLUMNS_ORDER = [column.name for column in _outbox.c]
_TIMES = select(_outbox.c.dedupe_key, _outbox.c.created_at).where(
    _outbox.c.dedupe_key == bindparam("key")
)


async def test_a_read_runs_here_and_gives_the_rows_the_session_gives(sessions, engine):
    async with sessions() as session, session.begin():
        await begun(session)
        for key, attempts in (("a", 1), ("c", 3), ("b", 2)):
            await direct.execute(session, _INSERT, message(key, attempts=attempts))
        await direct.execute(session, _INSERT, message("sent", state="sent"))

        # when the pending ones are read back in the same write transaction, here
        writer = await direct.writer(session)
        with statements_of(engine) as seen:
            here = await writer.rows(_KEYS, {"state": "pending"})
        through_session = [tuple(row) for row in await session.execute(_KEYS, {"state": "pending"})]

        # then the same rows in the statement's order, as plain tuples, and listeners told
        assert here == through_session == [("c", 3), ("b", 2), ("a", 1)]
        assert len(seen) == 1
        assert await direct.rows(session, _KEYS, {"state": "sent"}) == [("sent", 0)]


async def test_a_read_whose_values_are_converted_gives_what_the_session_gives(sessions, backend):
    async with sessions() as session, session.begin():
        await begun(session)
        await direct.execute(session, _INSERT, message("t"))
        writer = await direct.writer(session)
        # a time is made an aware UTC instant by its column type on the way out, here too
        here = await writer.rows(_TIMES, {"key": "t"})
        assert here == [("t", NOW)] and type(here[0][1]) is type(NOW)
        assert await direct.rows(session, _TIMES, {"key": "t"}) == [("t", NOW)]
        through = [tuple(row) for row in await session.execute(_TIMES, {"key": "t"})]
        assert through == [("t", NOW)] and type(through[0][1]) is type(NOW)

        # and every column of the row (JSON, numbers, text, times) as the session gives it
        whole = select(*_outbox.c).where(_outbox.c.dedupe_key == bindparam("key"))
        here = await writer.rows(whole, {"key": "t"})
        through = [tuple(row) for row in await session.execute(whole, {"key": "t"})]
        assert here == through
        assert [type(value) for value in here[0]] == [type(value) for value in through[0]]
        assert here[0][_COLUMNS_ORDER.index("payload")] == message("t")["payload"]

    # and outside a write transaction a read goes through the session too
    async with reading(sessions) as session:
        assert await direct.rows(session, _KEYS, {"state": "pending"}) == [("t", 0)]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_column_converts_by_the_type_the_server_describes(sessions):
    # A PostgreSQL numeric is a Decimal from asyncpg; a Numeric(asdecimal=False) column
    # makes it a float, by the type the server described (its oid), as SQLAlchemy does.
    as_float = select(cast(bindparam("amount", type_=String), Numeric(10, 2, asdecimal=False)))
    as_decimal = select(cast(bindparam("amount", type_=String), Numeric(10, 2)))
    async with sessions() as session, session.begin():
        writer = await direct.writer(session)
        for statement in (as_float, as_decimal):
            here = await writer.rows(statement, {"amount": "12.50"})
            through = [tuple(row) for row in await session.execute(statement, {"amount": "12.50"})]
            assert here == through
            assert type(here[0][0]) is type(through[0][0])
        assert type((await writer.rows(as_float, {"amount": "1"}))[0][0]) is float
        assert type((await writer.rows(as_decimal, {"amount": "1"}))[0][0]) is Decimal
