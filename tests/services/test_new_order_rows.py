"""A new order's rows (buyer, order, goods) on PostgreSQL: ids taken with the shop's read,
the rows written by the transaction's last statement, the objects the session's without a
flush (services.orders.new_rows); on SQLite flushed as before. Either way the database holds
exactly what the order returned says."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from services.orders import new_rows
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused, Problem
from storage.models import Buyer, Order, OrderEvent, OrderItem, OutboxMessage
from tests.factories import draft, item, make_order, make_shop
from tests.sql_log import statements_of


def columns(instance) -> dict:
    mapper = inspect(instance).mapper
    return {c.key: getattr(instance, mapper.get_property_by_column(c).key) for c in mapper.columns}


async def stored(services, order_id: int) -> tuple[dict, dict, list[dict]]:
    async with services.sessions() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id))
        buyer = await session.scalar(select(Buyer).where(Buyer.id == order.buyer_id))
        goods = await session.scalars(
            select(OrderItem).where(OrderItem.order_id == order_id).order_by(OrderItem.position)
        )
        return columns(order), columns(buyer), [columns(g) for g in goods]


async def test_a_new_order_is_stored_as_returned_its_rows_in_the_last_statement(
    services, engine, backend
):
    shop = await make_shop(services)
    await make_order(services, shop)  # the shop's caches warm
    with statements_of(engine) as seen:
        order = await make_order(services, shop, item("A", 2), item("B", 1, price=150))
    # the database holds every column as the returned objects have it
    stored_order, stored_buyer, stored_goods = await stored(services, order.id)
    assert stored_order == columns(order)
    assert stored_buyer == columns(order.buyer)
    assert stored_goods == [columns(g) for g in order.items]
    assert [g["position"] for g in stored_goods] == [1, 2]
    assert stored_order["version"] == 1 and stored_order["amount_paid"] == 0
    # and on PostgreSQL the three rows rode on the statement writing the outbox's rows
    writes = [
        s.upper()
        for s in seen
        if s.upper().startswith(("INSERT", "WITH")) and "ORDER_COUNTERS" not in s.upper()
    ]
    if backend == "postgres":
        assert len(writes) == 1, writes
        for table in ("BUYERS", "ORDERS", "ORDER_ITEMS", "OUTBOX"):
            assert f"INSERT INTO {table} " in writes[0]
    else:
        assert any(w.startswith("INSERT INTO ORDERS ") for w in writes)


async def test_a_split_order_writes_its_one_buyer_once(services):
    shop = await make_shop(services)
    made = await services.orders.create_orders(
        shop.id,
        draft(item("A"), item("B", availability="made_to_order")),
        ActorRef.system(Channel.API),
        source="api",
    )
    first = made[0]
    async with services.sessions() as session:
        orders = list(await session.scalars(select(Order).where(Order.buyer_id == first.buyer_id)))
        buyers = list(await session.scalars(select(Buyer).where(Buyer.shop_id == shop.id)))
    assert len(orders) == 2 and len(buyers) == 1
    assert {o.availability for o in orders} == {"in_stock", "made_to_order"}
    for order in orders:
        _order, _buyer, goods = await stored(services, order.id)
        assert len(goods) == 1 and goods[0]["order_id"] == order.id


async def test_too_few_ids_left_hold_nothing(services):
    order = Order(buyer=Buyer(shop_id=1), items=[OrderItem(position=1), OrderItem(position=2)])
    short = new_rows.NewIds(buyers=[7], orders=[8], items=[9])
    assert not await new_rows.hold(None, order, short)  # the caller flushes it instead
    assert (order.id, order.buyer.id, short.items) == (None, None, [9])


async def test_a_refused_duplicate_leaves_no_row_of_it(services):
    shop = await make_shop(services)
    await make_order(services, shop, external_id="web-1")
    before = await counts(services)
    with pytest.raises(OrderRefused) as refused:
        await make_order(services, shop, external_id="web-1")
    assert refused.value.code is Problem.DUPLICATE
    assert await counts(services) == before


async def counts(services) -> tuple[int, ...]:
    async with services.sessions() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Buyer, Order, OrderItem, OutboxMessage, OrderEvent)
            ]
        )
