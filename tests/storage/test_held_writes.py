"""Writes held back to the transaction's last statement (storage.held): on PostgreSQL a
status change goes out with the outbox's rows, and nothing in its transaction sees the
database without it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.orders.events import record
from services.orders.status_rows import write_status
from services.orders.unit import EVENT_IDS
from storage import direct, held
from storage.models import LedgerEntry, Order, OrderEvent
from tests.factories import make_order, make_shop
from tests.sql_log import statements_of


async def stored(services, order_id: int) -> tuple[tuple[str, int], list[int]]:
    async with services.sessions() as session:
        order = await session.get(Order, order_id)
        events = await session.scalars(
            select(OrderEvent.id).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return (order.status, order.version), list(events)


async def confirm_held(services, session, order_id: int):
    """The order loaded locked and its confirmation written (held on PostgreSQL)."""
    unit = services.orders._unit(session)
    order = await unit.load(order_id, lock=True, items=False)
    order.status = "awaiting_payment"
    event = record(order, None, unit.now, action="confirm", to_status="awaiting_payment")
    await write_status(unit, order, [event])
    return unit, order, event


async def test_a_held_change_is_seen_by_the_next_query_of_its_transaction(
    services, engine, backend
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        # given a status change written in a transaction (held back on PostgreSQL)
        with statements_of(engine) as seen:
            _unit, loaded, event = await confirm_held(services, session, order.id)
        sent = [s for s in seen if "order_events" in s and "INSERT" in s]
        assert len(sent) == (0 if backend == "postgres" else 1), sent
        # when the transaction reads the order's events and status through the session
        ids = list(
            await session.scalars(select(OrderEvent.id).where(OrderEvent.order_id == order.id))
        )
        status = await session.scalar(
            select(Order.__table__.c.status).where(Order.__table__.c.id == order.id)
        )
        # then it finds what it wrote, the event under the id it was given
        assert event.id in ids
        assert status == "awaiting_payment"
    assert await stored(services, order.id) == (("awaiting_payment", loaded.version), ids)


async def test_a_read_of_another_table_leaves_it_held_and_a_read_of_its_table_sends_it(
    services, engine, backend
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    ledger = select(LedgerEntry.__table__.c.id).where(LedgerEntry.__table__.c.order_id == order.id)
    events = select(OrderEvent.__table__.c.id).where(OrderEvent.__table__.c.order_id == order.id)
    async with services.sessions() as session, session.begin():
        _unit, _loaded, event = await confirm_held(services, session, order.id)
        # when the transaction reads the order's ledger (no held write touches it)
        with statements_of(engine) as seen:
            assert await direct.rows(session, ledger, {}) == []
        # then only that read went out on PostgreSQL
        assert len(seen) == 1, seen
        # when it reads the events' table
        with statements_of(engine) as seen:
            found = await direct.rows(session, events, {})
        # then the held change went first (PostgreSQL) and the read found its event
        assert len(seen) == (2 if backend == "postgres" else 1), seen
        assert (event.id,) in found


async def test_a_flush_of_the_order_after_a_held_change_writes_both_in_order(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        # given a held status change, then another change of the order's row
        _unit, loaded, _event = await confirm_held(services, session, order.id)
        loaded.delivery_address = "Elsewhere 2"
        # when the session flushes it (its UPDATE checks the version the change set)
        await session.flush()
    # then both landed, one version each
    async with services.sessions() as session:
        fresh = await session.get(Order, order.id)
        assert (fresh.status, fresh.delivery_address, fresh.version) == (
            "awaiting_payment",
            "Elsewhere 2",
            order.version + 2,
        )


async def test_two_changes_of_one_order_in_a_transaction_land_one_after_the_other(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        # given a held status change
        unit, loaded, first = await confirm_held(services, session, order.id)
        # when a second change of the same order is written (the first is sent before it)
        loaded.status = "cancelled"
        second = record(loaded, None, unit.now, action="cancel", to_status="cancelled")
        await write_status(unit, loaded, [second])
    # then both events are there in their order and the row has the second's status
    (status, version), ids = await stored(services, order.id)
    assert (status, version) == ("cancelled", order.version + 2)
    assert ids[-2:] == [first.id, second.id]


async def test_a_change_with_more_events_than_ids_taken_is_written_at_once(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    async with services.sessions() as session, session.begin():
        unit = services.orders._unit(session)
        loaded = await unit.load(order.id, lock=True, items=False)
        loaded.status = "awaiting_payment"
        # when a change writes more events than its load took ids for
        many = [
            record(loaded, None, unit.now, action="confirm", to_status="awaiting_payment")
            for _ in range(EVENT_IDS + 1)
        ]
        await write_status(unit, loaded, many)
        assert all(event.id is not None for event in many)
    # then all of them are stored, under the ids they were given
    _status, ids = await stored(services, order.id)
    assert ids[-len(many) :] == [event.id for event in many]


async def test_a_rolled_back_transaction_takes_its_held_change_along(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    before = await stored(services, order.id)
    async with services.sessions() as session:
        # given a status change held in a transaction that rolls back
        async with session.begin():
            await confirm_held(services, session, order.id)
            await session.rollback()
        # when the same session commits another transaction
        async with session.begin():
            await session.execute(select(Order.id).where(Order.id == order.id))
    # then nothing of the change was written
    assert await stored(services, order.id) == before


async def test_a_held_change_of_an_order_at_another_version_fails_loudly(services):
    # given an order read locked, whose version then moved on in the same transaction
    # (nothing does that; the lock keeps everyone else out)
    shop = await make_shop(services)
    order = await make_order(services, shop)
    before = await stored(services, order.id)
    async with services.sessions() as session:
        await session.begin()
        unit = services.orders._unit(session)
        loaded = await unit.load(order.id, lock=True, items=False)
        await session.execute(
            update(Order.__table__)
            .where(Order.__table__.c.id == order.id)
            .values(version=Order.__table__.c.version + 1)
        )
        loaded.status = "awaiting_payment"
        event = record(loaded, None, unit.now, action="confirm", to_status="awaiting_payment")
        # when its status change is written and sent
        with pytest.raises((StaleDataError, IntegrityError)):
            await write_status(unit, loaded, [event])
            await held.send(session)
        await session.rollback()
    # then nothing of it was written (the events' order_id comes from the UPDATE's row)
    assert await stored(services, order.id) == before
