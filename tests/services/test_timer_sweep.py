"""Timers as rows, fired by the sweep through the order service (B1, B3), on a moved clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.scheduler import build_scheduler
from services.orders.actors import ActorRef
from services.time.sweep import MAX_ATTEMPTS, TimerSweep
from services.workflow.presets import PRESETS, load_preset
from storage.models import Order, OrderEvent, OutboxMessage, Timer
from tests.factories import item, make_order, make_shop

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def sweep_of(services, **options) -> TimerSweep:
    return TimerSweep(services.sessions, services.clock, services.orders, **options)


async def status_of(services, order_id) -> str:
    async with services.sessions() as session:
        return await session.scalar(select(Order.status).where(Order.id == order_id))


async def events(services, order_id, action=None) -> list[OrderEvent]:
    query = select(OrderEvent).where(OrderEvent.order_id == order_id)
    if action:
        query = query.where(OrderEvent.action == action)
    async with services.sessions() as session:
        return list(await session.scalars(query.order_by(OrderEvent.id)))


async def outbox_topics(services, order_id) -> list[tuple[str, str]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.topic, OutboxMessage.channel)
            .where(OutboxMessage.order_id == order_id)
            .order_by(OutboxMessage.id)
        )
        return [tuple(row) for row in rows]


async def timer_rows(services, order_id) -> list[Timer]:
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(Timer).where(Timer.order_id == order_id).order_by(Timer.id)
            )
        )


async def act(services, shop, order, user, action, **inputs):
    return await services.orders.apply(order.id, shop.as_user(user), action, inputs)


# -- walking every preset's timers -------------------------------------------------------------


async def to_awaiting_payment(services, shop, order):
    await act(services, shop, order, shop.manager, "confirm")


async def to_shipped(services, shop, order):
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.packer, "ship", carrier="CDEK", track_code="1234567890")


async def to_marketplace_pickup(services, shop, order):
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.packer, "ready_for_pickup")


async def to_platform_pickup(services, shop, order):
    await services.orders.open(order.id, shop.as_user(shop.manager))
    await act(services, shop, order, shop.manager, "confirm")
    await act(services, shop, order, shop.packer, "pack")
    await act(services, shop, order, shop.packer, "ready_for_pickup")


async def to_fulfilled(services, shop, order):
    await act(services, shop, order, shop.accountant, "mark_paid")
    await act(services, shop, order, shop.courier, "fulfil")


# (preset, timer code): how an order gets to the timer's status, with which delivery, and what
# the timer must have done when it fires: the status reached, or the notification written.
WALKS = {
    ("marketplace", "payment_reminder"): (to_awaiting_payment, "post", ("reminder", "telegram")),
    ("marketplace", "payment_deadline"): (to_awaiting_payment, "post", "not_paid"),
    ("marketplace", "auto_receive"): (to_shipped, "post", "received"),
    ("marketplace", "auto_pickup"): (to_marketplace_pickup, "pickup", "picked_up"),
    ("platform", "pickup_reminder"): (to_platform_pickup, "pickup", ("shop_reminder", "telegram")),
    ("reseller", "auto_complete"): (to_fulfilled, "courier", "completed"),
}


def test_every_preset_timer_is_walked():
    declared = {(code, t.code) for code in PRESETS for t in load_preset(code).timers}
    assert declared == set(WALKS)


@pytest.mark.parametrize(("preset", "code"), sorted(WALKS))
async def test_each_preset_timer_fires_when_due_and_not_before(services, preset, code):
    walk, delivery, expected = WALKS[(preset, code)]
    shop = await make_shop(services, preset)
    order = await make_order(services, shop, delivery=delivery, email=None)
    from tests.factories import bind_buyer

    await bind_buyer(services, order, shop.buyer_user)  # reminders reach the buyer in Telegram
    await walk(services, shop, order)
    workflow = load_preset(preset)
    timer = next(t for t in workflow.timers if t.code == code)
    entered = services.clock.now()
    status_before = await status_of(services, order.id)
    assert status_before == timer.status

    # a second before it is due: nothing happens
    services.clock.set(entered + timer.after - SECOND)
    await sweep_of(services).run_once()
    assert await status_of(services, order.id) == status_before
    fired = [e for e in await events(services, order.id) if e.payload.get("timer") == code]
    assert fired == []

    # when due: the timer's effect, recorded with its due time, by the system
    services.clock.set(entered + timer.after)
    report = await sweep_of(services).run_once()
    assert report.errors == 0
    fired = [e for e in await events(services, order.id) if e.payload.get("timer") == code]
    assert len(fired) == 1
    assert fired[0].actor_kind == "system" and fired[0].channel == "scheduler"
    assert fired[0].payload["due_at"] == (entered + timer.after).isoformat()
    if isinstance(expected, str):
        assert await status_of(services, order.id) == expected
    else:
        assert expected in await outbox_topics(services, order.id)

    # and only once
    services.clock.advance(DAY)
    await sweep_of(services).run_once()
    again = [e for e in await events(services, order.id) if e.payload.get("timer") == code]
    assert len(again) == 1


async def test_leaving_the_status_cancels_its_timers(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await to_awaiting_payment(services, shop, order)
    await act(services, shop, order, shop.accountant, "mark_paid")  # paid in time
    services.clock.advance(40 * DAY)
    report = await sweep_of(services).run_once()
    assert report.fired == 0
    assert await status_of(services, order.id) == "preparing_shipment"
    states = {(t.code, t.state) for t in await timer_rows(services, order.id)}
    assert states == {("payment_reminder", "cancelled"), ("payment_deadline", "cancelled")}


async def test_downtime_is_caught_up_once_in_due_order(services):
    # given an order waiting for payment, and the bot down for ten days
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await to_awaiting_payment(services, shop, order)
    billed = services.clock.now()
    services.clock.advance(10 * DAY)
    # when it starts: both timers fire, the reminder first, each with its own due time
    await sweep_of(services).run_once()
    fired = [e for e in await events(services, order.id) if "timer" in e.payload]
    assert [(e.action, e.payload["due_at"]) for e in fired] == [
        ("reminder", (billed + 2 * DAY).isoformat()),
        ("expire_payment", (billed + 3 * DAY).isoformat()),
    ]
    assert all(e.created_at == services.clock.now() for e in fired)
    assert await status_of(services, order.id) == "not_paid"
    # and a restart applies nothing twice
    assert (await sweep_of(services).run_once()).fired == 0


async def test_a_sweep_that_died_mid_batch_is_finished_after_its_lease(services):
    shop = await make_shop(services)
    orders = [await make_order(services, shop) for _ in range(3)]
    for order in orders:
        await to_awaiting_payment(services, shop, order)
    services.clock.advance(2 * DAY)  # the three reminders are due
    dead = sweep_of(services, lease=timedelta(minutes=5))
    claimed = await dead._claim(services.clock.now())  # it claimed, then its process died
    assert len(claimed) == 3
    # another instance leaves them alone while the lease runs
    assert (await sweep_of(services).run_once()).fired == 0
    services.clock.advance(timedelta(minutes=5))
    assert (await sweep_of(services).run_once()).fired == 3
    for order in orders:
        assert len(await events(services, order.id, "reminder")) == 1


async def test_the_scheduler_sweeps_at_start(services):
    # given a timer that fell due while the bot was down
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await to_awaiting_payment(services, shop, order)
    services.clock.advance(4 * DAY)
    done = asyncio.Event()
    sweep = sweep_of(services)

    class Watched:
        async def run_once(self):
            report = await sweep.run_once()
            done.set()
            return report

    # when the scheduler starts (its interval is an hour: only the start-up run can do it)
    scheduler = build_scheduler(Watched(), every_seconds=3600)
    scheduler.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        scheduler.shutdown(wait=False)
    assert await status_of(services, order.id) == "not_paid"


async def test_a_timer_that_raises_is_retried_then_left_failed(services):
    shop = await make_shop(services)
    broken_order = await make_order(services, shop, item("A"))
    fine_order = await make_order(services, shop, item("B"))
    for order in (broken_order, fine_order):
        await to_awaiting_payment(services, shop, order)
    # a corrupt row: a reminder whose payload is not a mapping
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Timer)
            .where(Timer.order_id == broken_order.id, Timer.code == "payment_reminder")
            .values(payload=["broken"])
        )
    services.clock.advance(2 * DAY)
    first = await sweep_of(services).run_once()
    # the other order's reminder is not held up by it
    assert (first.errors, first.outcomes) == (1, {"sent": 1})
    for _ in range(2, MAX_ATTEMPTS + 1):
        services.clock.advance(timedelta(minutes=20))  # past the longest backoff (16 min)
        assert (await sweep_of(services).run_once()).errors == 1
    rows = await timer_rows(services, broken_order.id)
    (broken,) = [t for t in rows if t.code == "payment_reminder"]
    assert broken.state == "failed" and broken.attempts == MAX_ATTEMPTS
    assert "AttributeError" in broken.last_error
    services.clock.advance(timedelta(hours=1))
    assert (await sweep_of(services).run_once()).errors == 0  # left alone
    assert len(await events(services, broken_order.id, "reminder")) == 0


async def test_a_timer_of_a_status_the_order_left_does_nothing(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await to_awaiting_payment(services, shop, order)
    # the order moved on without its timers being cancelled (a race, or a row from before)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(Order).where(Order.id == order.id).values(status="paid", version=99)
        )
    services.clock.advance(5 * DAY)
    report = await sweep_of(services).run_once()
    assert report.outcomes == {"order moved on": 2}
    assert await status_of(services, order.id) == "paid"


async def test_two_sweeps_at_once_fire_each_timer_once(services, engine):
    from storage.database import create_session_factory

    shop = await make_shop(services)
    orders = [await make_order(services, shop, item(f"S{i}")) for i in range(20)]
    for order in orders:
        await to_awaiting_payment(services, shop, order)
    services.clock.advance(4 * DAY)
    first = sweep_of(services, batch=3)
    second = TimerSweep(
        create_session_factory(engine), services.clock, services.orders, batch=3, workers=2
    )
    reports = await asyncio.gather(first.run_once(), second.run_once())
    assert all(r.errors == 0 for r in reports)
    async with services.sessions() as session:
        expired = await session.scalar(
            select(func.count()).where(OrderEvent.action == "expire_payment")
        )
        reminded = list(
            await session.scalars(
                select(func.count())
                .select_from(OrderEvent)
                .where(OrderEvent.action == "reminder")
                .group_by(OrderEvent.order_id)
            )
        )
        pending = await session.scalar(select(func.count()).where(Timer.state == "pending"))
    assert expired == 20  # every order expired, once
    # A reminder may find its order expired already by the other instance (both were due):
    # then it is cancelled with its status, never sent late, never sent twice.
    assert set(reminded) <= {1}
    assert sum(r.fired for r in reports) == 20 + len(reminded)
    assert pending == 0


async def test_the_system_actor_cannot_be_forged_by_a_person(services):
    # expire_payment is the system's alone: a manager asking for it is refused
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await to_awaiting_payment(services, shop, order)
    from services.refusals import OrderRefused

    with pytest.raises(OrderRefused):
        await services.orders.apply(order.id, ActorRef.user(shop.manager.id), "expire_payment")


async def test_a_reminder_goes_by_telegram_else_by_email(services):
    from tests.factories import bind_buyer

    shop = await make_shop(services)
    in_telegram = await make_order(services, shop, item("A"), phone="+79161110000")
    by_email = await make_order(
        services, shop, item("B"), phone="+79162220000", email="other@example.com"
    )
    await bind_buyer(services, in_telegram, shop.buyer_user)  # both have an e-mail address
    for order in (in_telegram, by_email):
        await to_awaiting_payment(services, shop, order)
    services.clock.advance(2 * DAY)
    await sweep_of(services).run_once()
    reminders = {
        order.id: [c for t, c in await outbox_topics(services, order.id) if t == "reminder"]
        for order in (in_telegram, by_email)
    }
    assert reminders == {in_telegram.id: ["telegram"], by_email.id: ["email"]}
