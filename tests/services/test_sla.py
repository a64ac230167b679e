"""Time limits in business hours (B2, seed 003): set on entering a status, enforced by the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.messaging.notifications.recipients import recipients
from services.orders.actors import ActorRef
from services.time.sweep import TimerSweep
from storage.models import Order, OrderEvent, OutboxMessage, Shop, Timer
from tests.factories import make_order, make_shop
from tests.sql_log import statements_of

# 003's worked examples, in the default shop's Moscow time (UTC+3, no DST).
TUESDAY_18 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
WEDNESDAY_10 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
FRIDAY_18 = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
MONDAY_10 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


async def order_row(services, order_id) -> Order:
    async with services.sessions() as session:
        return await session.get(Order, order_id)


async def sweep(services):
    return await TimerSweep(services.sessions, services.clock, services.orders).run_once()


async def new_platform_order(services, at: datetime, **settings):
    services.clock.set(at)
    shop = await make_shop(services, "platform", **settings)
    return shop, await make_order(services, shop)


async def test_new_order_tuesday_evening_is_due_wednesday_ten(services):
    _, order = await new_platform_order(services, TUESDAY_18)
    row = await order_row(services, order.id)
    assert row.sla_excellent_at == TUESDAY_18 + timedelta(hours=1)  # 60 min, same evening
    assert row.sla_deadline_at == WEDNESDAY_10  # 2 h on Tuesday, 1 h on Wednesday


async def test_new_order_friday_evening_is_due_monday_ten(services):
    _, order = await new_platform_order(services, FRIDAY_18)
    assert (await order_row(services, order.id)).sla_deadline_at == MONDAY_10


async def test_past_the_limit_the_order_is_a_problem_and_staff_are_alerted(services):
    shop, order = await new_platform_order(services, TUESDAY_18)
    services.clock.set(WEDNESDAY_10 - timedelta(seconds=1))
    await sweep(services)
    assert not (await order_row(services, order.id)).problem

    services.clock.set(WEDNESDAY_10)
    report = await sweep(services)
    assert report.outcomes == {"flagged": 1}
    row = await order_row(services, order.id)
    assert (row.problem, row.problem_reason, row.status) == (True, "sla_expired", "new")
    async with services.sessions() as session:
        event = await session.scalar(select(OrderEvent).where(OrderEvent.action == "sla_expired"))
        alert = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.topic == "sla_expired")
        )
        chats = {r.chat_id for r in await recipients(session, alert, services.workflows)}
    assert event.visible_to_buyer is False  # the shop's alarm, not the buyer's business
    assert event.payload["due_at"] == WEDNESDAY_10.isoformat()
    assert event.payload["auto_cancel"] is None
    # the owner (the shop's admin) and the manager, who works new orders
    assert chats == {shop.owner.telegram_id, shop.manager.telegram_id}


async def test_the_shop_may_have_late_orders_cancelled(services):
    _, order = await new_platform_order(services, TUESDAY_18, sla_auto_cancel=True)
    services.clock.set(WEDNESDAY_10)
    assert (await sweep(services)).outcomes == {"flagged, order cancelled": 1}
    assert (await order_row(services, order.id)).status == "cancelled"
    async with services.sessions() as session:
        cancel = await session.scalar(select(OrderEvent).where(OrderEvent.action == "cancel"))
    assert cancel.payload["inputs"] == {"reason": "processing_time_expired"}
    assert cancel.actor_kind == "system"


async def test_moving_on_ends_the_problem_and_starts_the_next_limit(services):
    shop, order = await new_platform_order(services, TUESDAY_18)
    services.clock.set(WEDNESDAY_10)
    await sweep(services)
    # the manager finally opens it (003: opening accepts it for processing)
    services.clock.set(WEDNESDAY_10 + timedelta(minutes=30))
    await services.orders.open(order.id, ActorRef.user(shop.manager.id))
    row = await order_row(services, order.id)
    assert row.status == "requires_agreement" and not row.problem
    # 6 h of working time from 10:30 Moscow: 16:30 the same day
    assert row.sla_deadline_at == datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    async with services.sessions() as session:
        pending = list(
            await session.scalars(
                select(Timer.status).where(Timer.order_id == order.id, Timer.state == "pending")
            )
        )
    assert pending == ["requires_agreement"]  # the old deadline's timer is gone


async def test_moving_on_before_the_limit_replaces_the_deadline_in_one_statement(
    services, engine, backend
):
    # given a new order whose deadline is pending
    shop, order = await new_platform_order(services, TUESDAY_18)
    services.clock.set(TUESDAY_18 + timedelta(minutes=10))
    # when the manager opens it, moving it into a status with a limit of its own
    with statements_of(engine) as seen:
        await services.orders.open(order.id, ActorRef.user(shop.manager.id))
    # then the old deadline is cancelled and the new one set: in one statement on PostgreSQL
    # (the cancelling UPDATE a CTE of the INSERT), in two on SQLite
    writes = [s for s in seen if "UPDATE timers" in s or "INSERT INTO timers" in s]
    assert len(writes) == (1 if backend == "postgres" else 2), writes
    async with services.sessions() as session:
        rows = await session.execute(
            select(Timer.code, Timer.status, Timer.state, Timer.due_at)
            .where(Timer.order_id == order.id)
            .order_by(Timer.id)
        )
        timers = [tuple(row) for row in rows]
    assert timers == [
        ("sla_deadline", "new", "cancelled", WEDNESDAY_10),
        # 6 h of working time from 18:10 Moscow: 1 h 50 min on Tuesday, 4 h 10 min on Wednesday
        (
            "sla_deadline",
            "requires_agreement",
            "pending",
            datetime(2026, 11, 25, 10, 10, tzinfo=UTC),
        ),
    ]


async def test_no_limit_without_one_in_the_workflow(services):
    shop = await make_shop(services, "marketplace")
    order = await make_order(services, shop)
    row = await order_row(services, order.id)
    assert row.sla_deadline_at is None and row.sla_excellent_at is None


async def test_auto_cancel_only_where_the_system_may_cancel(services):
    # stages: cash on delivery with the shop's courier; auto-cancellation on
    services.clock.set(TUESDAY_18)
    shop = await make_shop(services, "stages", sla_auto_cancel=True)
    order = await make_order(services, shop, delivery="courier", payment="cash")
    manager = ActorRef.user(shop.manager.id)
    for action in ("take", "confirm", "pack", "agree_delivery"):
        await services.orders.apply(order.id, manager, action)
    row = await order_row(services, order.id)
    assert row.status == "courier_delivery"  # 11 h / 22 h of working time
    # when its limit passes out with the courier, only the manager may cancel: flagged only
    services.clock.set(row.sla_deadline_at)
    assert (await sweep(services)).outcomes == {"flagged": 1}
    row = await order_row(services, order.id)
    assert (row.status, row.problem) == ("courier_delivery", True)
    async with services.sessions() as session:
        event = await session.scalar(select(OrderEvent).where(OrderEvent.action == "sla_expired"))
    assert event.payload["auto_cancel"] is None

    # a new order in the same shop is cancelled when its own limit in "new" (2 h) passes
    fresh = await make_order(services, shop, delivery="courier", payment="cash")
    services.clock.set((await order_row(services, fresh.id)).sla_deadline_at)
    assert (await sweep(services)).outcomes == {"flagged, order cancelled": 1}
    assert (await order_row(services, fresh.id)).status == "cancelled"


async def test_working_hours_and_days_off_of_the_shop_count(services):
    services.clock.set(TUESDAY_18)
    shop = await make_shop(services, "platform")
    async with services.sessions() as session, session.begin():
        row = await session.get(Shop, shop.id)
        row.working_hours = {"tue": ["09:00", "20:00"], "thu": ["10:00", "18:00"]}
        row.days_off = []
    order = await make_order(services, shop)
    # 2 h on Tuesday, Wednesday closed, 1 h from Thursday 10:00 Moscow
    expected = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert (await order_row(services, order.id)).sla_deadline_at == expected
