"""SQLite's write transactions take turns in arrival order, and a failed one gives its turn back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from storage.database import create_engine, create_session_factory, reading
from storage.write_queue import Turns


@pytest.fixture
async def engine(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE log (n INTEGER)"))
    yield engine
    await engine.dispose()


async def test_writers_take_turns(engine):
    sessions = create_session_factory(engine)
    started: list[int] = []

    async def writer(n: int) -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO log (n) VALUES (:n)"), {"n": n})
            started.append(n)  # the transaction began (and took its turn) with the INSERT
            await asyncio.sleep(0)  # let the others line up meanwhile

    await asyncio.gather(*(writer(n) for n in range(30)))
    async with reading(sessions) as session:
        written = list(await session.scalars(text("SELECT n FROM log ORDER BY rowid")))
    assert written == started and sorted(written) == list(range(30))


async def test_a_rolled_back_writer_lets_the_next_one_in(engine):
    sessions = create_session_factory(engine)
    with pytest.raises(RuntimeError):
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO log (n) VALUES (1)"))
            raise RuntimeError("the change failed")
    async with sessions() as session, session.begin():
        await session.execute(text("INSERT INTO log (n) VALUES (2)"))
    async with reading(sessions) as session:
        assert list(await session.scalars(text("SELECT n FROM log"))) == [2]


async def test_readers_do_not_wait_for_a_writer(engine):
    sessions = create_session_factory(engine)
    async with sessions() as writer, writer.begin():
        await writer.execute(text("INSERT INTO log (n) VALUES (1)"))
        async with reading(sessions) as reader:
            assert list(await reader.scalars(text("SELECT n FROM log"))) == []


async def test_a_cancelled_writer_gives_its_turn_back(engine):
    sessions = create_session_factory(engine)
    inside = asyncio.Event()

    async def stuck() -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("INSERT INTO log (n) VALUES (1)"))
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(5), sessions() as session, session.begin():
        await session.execute(text("INSERT INTO log (n) VALUES (2)"))
    async with reading(sessions) as session:
        assert list(await session.scalars(text("SELECT n FROM log"))) == [2]


async def test_turns_go_in_arrival_order_and_a_wait_that_times_out_leaves_no_trace():
    turns = Turns()
    assert turns.take_now()  # free: taken at once
    order: list[str] = []

    async def writer(name: str, seconds: float) -> None:
        await turns.take(seconds)
        order.append(name)

    first = asyncio.create_task(writer("first", 5))
    late = asyncio.create_task(writer("late", 0.01))
    second = asyncio.create_task(writer("second", 5))
    with pytest.raises(TimeoutError):
        await late  # it gave up waiting: it must neither hold nor block a turn
    assert not turns.take_now()  # the turn is still the first holder's
    turns.give_back()
    await first
    turns.give_back()
    await second
    assert order == ["first", "second"]
    turns.give_back()
    assert turns.take_now()  # nobody holds it, nobody waits


async def test_a_turn_handed_to_a_writer_cancelled_at_that_moment_passes_on():
    turns = Turns()
    turns.take_now()
    unlucky = asyncio.create_task(turns.take(5))
    next_one = asyncio.create_task(turns.take(5))
    await asyncio.sleep(0)  # both wait
    turns.give_back()  # handed to the unlucky one ...
    unlucky.cancel()  # ... cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    async with asyncio.timeout(5):
        await next_one  # the turn went on instead of being lost
    assert turns.taken
