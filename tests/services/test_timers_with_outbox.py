"""A status change's timers written with its outbox rows (issue 15): on PostgreSQL one
statement at the end of the transaction; whatever happens in between, they are written
once, in order, before the commit, and never outlive a rollback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.orders.actors import ActorRef
from services.time import timers
from storage.models import OutboxMessage, Timer
from tests.factories import make_order, make_shop
from tests.sql_log import statements_of


async def rows_of(services, order_id) -> list[tuple[str, str]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(Timer.code, Timer.state).where(Timer.order_id == order_id).order_by(Timer.id)
        )
        return [tuple(row) for row in rows]


async def test_a_change_writes_its_timers_and_notifications_in_one_statement(
    services, engine, backend
):
    # given a new order (its status has no timers)
    shop = await make_shop(services)
    order = await make_order(services, shop)
    before = await rows_of(services, order.id)

    # when the manager confirms it: awaiting payment has a reminder and a deadline
    with statements_of(engine) as seen:
        await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")

    # then both timers are pending and the buyer is told
    assert await rows_of(services, order.id) == [
        *before,
        ("payment_reminder", "pending"),
        ("payment_deadline", "pending"),
    ]
    async with services.sessions() as session:
        told = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.order_id == order.id, OutboxMessage.topic == "status_changed"
            )
        )
    assert told is not None
    # in one statement with the outbox's rows on PostgreSQL, apart on SQLite
    timer_writes = [s for s in seen if "INSERT INTO timers" in s]
    assert len(timer_writes) == 1, timer_writes
    together = "outbox" in timer_writes[0]
    assert together == (backend == "postgres"), timer_writes[0]


async def test_a_held_change_is_written_at_commit_and_before_the_next_one(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    now = services.clock.now()
    first = [timers.row(order.id, "first", "reminder", "new", None, now, now, {})]
    second = [timers.row(order.id, "second", "reminder", "new", None, now, now, {})]

    # given a change held back and no notification to carry it: the commit writes it
    async with services.sessions() as session, session.begin():
        await timers.hold(session, timers.plan(session, order.id, now, cancel=False, rows=first))
    assert ("first", "pending") in await rows_of(services, order.id)

    # given a change held back, then another that cancels what is pending: the first is
    # written before the second, so the second cancels its rows (together, one statement
    # would not have seen them)
    async with services.sessions() as session, session.begin():
        await timers.hold(session, timers.plan(session, order.id, now, cancel=False, rows=second))
        await timers.change(session, order.id, now, cancel=True, rows=())
    rows = dict(await rows_of(services, order.id))
    assert (rows["first"], rows["second"]) == ("cancelled", "cancelled")


async def test_a_held_change_goes_with_a_rolled_back_transaction(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    now = services.clock.now()
    lost = [timers.row(order.id, "lost", "reminder", "new", None, now, now, {})]
    async with services.sessions() as session:
        # given a change held back in a transaction that rolls back
        async with session.begin():
            await timers.hold(session, timers.plan(session, order.id, now, cancel=False, rows=lost))
            await session.rollback()
        # when the same session commits another transaction
        async with session.begin():
            pass
    # then nothing of the held change was written
    assert "lost" not in dict(await rows_of(services, order.id))


async def test_a_timer_fired_later_finds_the_timers_written_with_the_outbox(services):
    # given an order confirmed (its timers written with its notifications)
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    # when its deadline passes and the sweep runs
    from services.time.sweep import TimerSweep

    services.clock.advance(timedelta(days=4))
    report = await TimerSweep(services.sessions, services.clock, services.orders).run_once()
    # then the deadline applied and the reminder it passed was cancelled
    assert report.outcomes.get("applied") == 1
    rows = dict(await rows_of(services, order.id))
    assert rows["payment_deadline"] == "done"
