"""What firing a timer leaves on its row (B1, B3): done or cancelled, with the outcome an
operator reads, and the statements a fire runs when its order holds no goods and was never
paid through a provider (issue 15)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from services.orders.actors import ActorRef
from services.time import sla, timers
from services.time.sweep import TimerSweep
from storage.models import Order, Timer
from tests.factories import make_order, make_shop
from tests.sql_log import statements_of

DAY = timedelta(days=1)


async def awaiting_payment(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "confirm")
    return shop, order


async def timer_rows(services, order_id) -> dict[str, tuple[str, str | None]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(Timer.code, Timer.state, Timer.outcome).where(Timer.order_id == order_id)
        )
        return {code: (state, outcome) for code, state, outcome in rows}


def sweep(services) -> TimerSweep:
    return TimerSweep(services.sessions, services.clock, services.orders)


async def test_fired_timers_are_done_with_what_they_did(services, engine):
    # given an order awaiting payment, its reminder and deadline both due
    _shop, order = await awaiting_payment(services)
    services.clock.advance(4 * DAY)
    # when the sweep fires them
    with statements_of(engine) as seen:
        report = await sweep(services).run_once()
    # then each is done with its outcome, written by the statement that took it
    assert report.outcomes == {"sent": 1, "applied": 1}
    assert await timer_rows(services, order.id) == {
        "payment_reminder": ("done", "sent"),
        "payment_deadline": ("done", "applied"),
    }
    assert not [s for s in seen if s.startswith("UPDATE timers SET outcome")]


async def test_expiring_an_order_without_goods_or_payments_reads_neither(services, engine):
    # given an order of free lines (no product in the catalogue), never paid
    _shop, order = await awaiting_payment(services)
    async with services.sessions() as session:
        flags = (
            await session.execute(
                select(Order.reserved_stock, Order.provider_paid).where(Order.id == order.id)
            )
        ).one()
    assert tuple(flags) == (False, False)
    services.clock.advance(4 * DAY)
    # when its deadline cancels it
    with statements_of(engine) as seen:
        await sweep(services).run_once()
    # then neither its stock movements nor its payments were read, and with its last timer
    # taken, no timer was left to cancel
    async with services.sessions() as session:
        assert await session.scalar(select(Order.status).where(Order.id == order.id)) == "not_paid"
    assert any("UPDATE orders SET status" in s for s in seen)
    assert not [s for s in seen if "FROM stock_movements" in s or "FROM payments" in s]
    assert not cancels(seen)


async def test_a_transition_fired_cancels_the_timers_still_pending(services, engine):
    # given an order whose deadline falls due before its reminder
    _shop, order = await awaiting_payment(services)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Timer)
            .where(Timer.order_id == order.id, Timer.code == "payment_reminder")
            .values(due_at=services.clock.now() + 10 * DAY)
        )
    services.clock.advance(4 * DAY)
    # when the deadline fires
    with statements_of(engine) as seen:
        report = await sweep(services).run_once()
    # then the order left the status, and the reminder with it
    assert report.outcomes == {"applied": 1}
    assert len(cancels(seen)) == 1
    assert await timer_rows(services, order.id) == {
        "payment_reminder": ("cancelled", None),
        "payment_deadline": ("done", "applied"),
    }
    services.clock.advance(20 * DAY)
    assert (await sweep(services).run_once()).outcomes == {}


def cancels(statements: list[str]) -> list[str]:
    """The UPDATEs cancelling an order's pending timers (services.time.timers), also as a
    CTE of another statement (PostgreSQL: with the outbox's rows)."""
    cancel = re.compile(r"UPDATE timers SET .* WHERE timers\.order_id")
    return [s for s in statements if cancel.search(s)]


async def test_a_refused_action_is_recorded_on_its_timer(services):
    # given a deadline whose action the workflow no longer has
    _shop, order = await awaiting_payment(services)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Timer)
            .where(Timer.order_id == order.id, Timer.code == "payment_deadline")
            .values(action="no_such_action")
        )
    services.clock.advance(4 * DAY)
    # when it fires
    report = await sweep(services).run_once()
    # then nothing changed but the timer, done with the refusal for an operator to read
    state, outcome = (await timer_rows(services, order.id))["payment_deadline"]
    assert state == "done" and outcome.startswith("refused: ")
    assert report.outcomes[outcome] == 1
    async with services.sessions() as session:
        status = await session.scalar(select(Order.status).where(Order.id == order.id))
    assert status == "awaiting_payment"


async def test_a_timer_of_a_status_left_is_cancelled_not_done(services):
    # given an order that left the status without its timers being cancelled (a race)
    _shop, order = await awaiting_payment(services)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Order).where(Order.id == order.id).values(status="paid", version=99)
        )
    services.clock.advance(4 * DAY)
    # when they fire
    await sweep(services).run_once()
    # then both are cancelled as having nothing to do
    assert await timer_rows(services, order.id) == {
        "payment_reminder": ("cancelled", "order moved on"),
        "payment_deadline": ("cancelled", "order moved on"),
    }


async def test_a_timer_scheduled_after_the_fact_is_cancelled_all_the_same(services):
    # given a transaction told that the order has no pending timer, which then adds one
    _shop, order = await awaiting_payment(services)
    now = services.clock.now()
    async with services.sessions() as session, session.begin():
        loaded = await session.get(Order, order.id)
        await session.execute(update(Timer).where(Timer.order_id == order.id).values(state="done"))
        timers.none_pending(session, order.id)
        await sla.schedule_deadline(session, loaded, sla.Limits(None, now + DAY), now)
        # when the order leaves the status
        await timers.cancel_pending(session, order.id, now)
    # then the timer it added is cancelled
    assert (await timer_rows(services, order.id))[sla.TIMER_CODE] == ("cancelled", None)
