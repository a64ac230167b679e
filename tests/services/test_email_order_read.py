"""The order an e-mail is made of, read as plain rows (services.messaging.email.order_read):
the same values as the ORM's objects, goods in their positions' order, and read without
waiting for writers."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import selectinload

from services.messaging.email.order_read import read_only_engine, read_order
from storage.models import Buyer, Order, OrderItem, OutboxMessage, Shop
from tests.factories import item, mail_reader, make_order, make_shop


def columns(obj, model) -> dict:
    return {attribute.key: getattr(obj, attribute.key) for attribute in inspect(model).column_attrs}


async def orm_order(services, order_id: int) -> tuple[Order, Shop]:
    async with services.sessions() as session:
        order = await session.get(Order, order_id, options=[selectinload(Order.items)])
        shop = await session.get(Shop, order.shop_id)
        return order, shop


async def test_the_rows_read_are_the_orms_values(services):
    # given: an order with a line discount, an order discount and its lines out of id order
    shop = await make_shop(services)
    order = await make_order(
        services,
        shop,
        item("TEA-1", 2, 12_345),
        item("CUP-9", 1, 50_000, discount=5_000),
        item("POT-3", 3, 7_000),
        delivery_cost=30_000,
    )
    async with services.sessions() as session, session.begin():
        ids = list(
            await session.scalars(
                select(OrderItem.id).where(OrderItem.order_id == order.id).order_by(OrderItem.id)
            )
        )
        for position, item_id in zip((3, 1, 2), ids, strict=True):
            await session.execute(
                update(OrderItem).where(OrderItem.id == item_id).values(position=position)
            )

    # when
    async with read_only_engine(services.sessions).connect() as connection:
        snapshot, shop_snapshot = await read_order(connection, order.id)

    # then
    expected, expected_shop = await orm_order(services, order.id)
    assert columns(snapshot, Order) == columns(expected, Order)
    assert columns(snapshot.buyer, Buyer) == columns(expected.buyer, Buyer)
    assert columns(shop_snapshot, Shop) == columns(expected_shop, Shop)
    assert [i.sku for i in snapshot.items] == ["CUP-9", "POT-3", "TEA-1"]
    assert [columns(i, OrderItem) for i in snapshot.items] == [
        columns(i, OrderItem) for i in expected.items
    ]
    assert [i.line_total for i in snapshot.items] == [i.line_total for i in expected.items]
    assert snapshot.created_at.tzinfo is not None  # the same UTC type as the models'


async def test_an_order_without_goods_and_a_missing_order(services):
    shop = await make_shop(services)
    order = await make_order(services, shop, item())
    async with services.sessions() as session, session.begin():
        await session.execute(delete(OrderItem).where(OrderItem.order_id == order.id))

    async with read_only_engine(services.sessions).connect() as connection:
        snapshot, _ = await read_order(connection, order.id)
        missing = await read_order(connection, order.id + 1000)

    assert snapshot.items == []
    assert snapshot.buyer.id == order.buyer_id
    assert missing is None


async def test_a_mail_is_read_while_a_writer_holds_the_database(services):
    # given: a write transaction open (on SQLite it holds the write lock and the writers' queue)
    shop = await make_shop(services)
    await make_order(services, shop, item())
    async with services.sessions() as session:
        [row] = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.channel == "email", OutboxMessage.topic == "new_order"
                )
            )
        )
    reader = mail_reader(services, secret="a secret for the tests")
    await reader.read(row, services.clock.now())  # the workflow version met once
    async with services.sessions() as writer, writer.begin():
        await writer.execute(update(Shop).where(Shop.id == shop.id).values(name="Renamed"))

        # when: the mail is read meanwhile
        mail = await asyncio.wait_for(reader.read(row, services.clock.now()), timeout=5)

    # then: it did not wait, and saw what was committed
    assert mail is not None
    assert "Renamed" not in mail.text
