"""A status change is written by two prebuilt statements (services.orders.status_rows): the
order's row with its version check, and the audit events with their ids."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from services.orders.actors import ActorRef
from services.orders.events import record
from services.orders.status_rows import write_status
from storage.models import Order, OrderEvent
from tests.factories import make_order, make_shop
from tests.sql_log import statements_of


async def stored_events(services, order_id: int) -> list[tuple[int, str, str | None]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(OrderEvent.id, OrderEvent.action, OrderEvent.to_status)
            .where(OrderEvent.order_id == order_id)
            .order_by(OrderEvent.id)
        )
        return [tuple(row) for row in rows]


async def test_a_transition_updates_the_order_once_and_its_events_get_their_ids(
    services, engine, backend
):
    # given an order awaiting payment
    shop = await make_shop(services)
    order = await make_order(services, shop)
    owner = ActorRef.user(shop.owner.id)
    await services.orders.apply(order.id, owner, "confirm")

    # when the payment is marked, which chains on to preparing the shipment
    with statements_of(engine) as seen:
        result = await services.orders.apply(order.id, owner, "mark_paid")

    # then the order's row was written by one UPDATE, both steps' events by one INSERT
    # (SQLite: one per event, as it does not promise RETURNING's rows in the VALUES' order;
    # the ledger's totals follow in a statement of their own, with no version)
    # (PostgreSQL: held back to the transaction's last statement, storage.held: the UPDATE,
    # the ledger's totals in it, the events' INSERT with the ids taken with the order's
    # load and the outbox's rows are one statement)
    updates = [s for s in seen if "UPDATE ORDERS " in s.upper() and "version" in s]
    inserts = [s for s in seen if "INSERT INTO ORDER_EVENTS" in s.upper()]
    assert len(updates) == 1, updates
    assert len(inserts) == (1 if backend == "postgres" else 2), inserts
    if backend == "postgres":
        assert updates == inserts
        assert "INSERT INTO OUTBOX" in updates[0].upper()
        assert "AMOUNT_PAID=" in updates[0].upper()
        assert not [s for s in seen if s.upper().startswith("UPDATE ORDERS")]
    # and the events returned carry the ids the database gave them, step by step
    stored = await stored_events(services, order.id)
    returned = [(e.id, e.action, e.to_status) for e in result.events]
    assert [e.to_status for e in result.events] == ["paid", "preparing_shipment"]
    assert returned == stored[-2:]
    # and the order as read again is what the transition wrote
    fresh = await services.orders.get(order.id, owner)
    assert (fresh.status, fresh.version, fresh.last_action) == (
        result.order.status,
        result.order.version,
        "mark_paid",
    )
    assert fresh.version == order.version + 2


async def test_an_order_changed_since_it_was_read_is_not_overwritten(services):
    # given an order read in a transaction, whose row another change moved on meanwhile
    shop = await make_shop(services)
    order = await make_order(services, shop)
    events_before = await stored_events(services, order.id)
    async with services.sessions() as session:
        await session.begin()
        unit = services.orders._unit(session)
        loaded = await unit.load(order.id, items=False)
        await session.execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == order.id)
            .values(version=Order.__table__.c.version + 1, status="cancelled")
        )
        loaded.status = "awaiting_payment"
        # when the status change is written
        with pytest.raises(StaleDataError):
            await write_status(unit, loaded, [record(loaded, None, unit.now, action="confirm")])
        # then the other change stands and no event was written
        row = await session.execute(
            select(Order.__table__.c.status, Order.__table__.c.version).where(
                Order.__table__.c.id == order.id
            )
        )
        assert tuple(row.one()) == ("cancelled", order.version + 1)
        events = await session.execute(
            select(OrderEvent.__table__.c.id).where(OrderEvent.__table__.c.order_id == order.id)
        )
        assert len(events.all()) == len(events_before)
        await session.rollback()  # as the order's work does when it lost the race


async def test_an_order_changed_beyond_its_status_is_written_whole(services, engine):
    # given an order whose delivery address changed in the same transaction as its status
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        unit = services.orders._unit(session)
        loaded = await unit.load(order.id, items=False)
        loaded.delivery_address = "Somewhere else 1"
        loaded.status = "awaiting_payment"
        confirm = record(loaded, None, unit.now, action="confirm", to_status="awaiting_payment")
        # when the status change is written
        with statements_of(engine) as seen:
            await write_status(unit, loaded, [confirm])
    # then both changes landed under one new version, and the event has its id
    updates = [s for s in seen if s.upper().startswith("UPDATE ORDERS ")]
    assert len(updates) == 1
    async with services.sessions() as session:
        fresh = await session.get(Order, order.id)
        assert (fresh.status, fresh.delivery_address, fresh.version) == (
            "awaiting_payment",
            "Somewhere else 1",
            order.version + 1,
        )
    assert (confirm.id, "confirm", "awaiting_payment") in await stored_events(services, order.id)
