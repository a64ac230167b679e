"""The order's notes that it holds goods and was paid through a provider (issue 15): set with
the rows they stand for, so a step of an order without them reads neither; filled from those
rows by the migration that adds them."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from services.orders.actors import ActorRef
from services.payments.service import Confirmed, PaymentService
from storage.migrate import downgrade, upgrade
from storage.models import Order
from tests.factories import item, make_order, make_shop
from tests.products_factories import counts, make_product, movements


async def facts(services, *orders) -> list[tuple[bool, bool]]:
    """(reserved_stock, provider_paid) of each order."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(Order.id, Order.reserved_stock, Order.provider_paid).where(
                Order.id.in_([o.id for o in orders])
            )
        )
        by_id = {order_id: (held, paid) for order_id, held, paid in rows}
    return [by_id[o.id] for o in orders]


async def paid_by_telegram(services, shop, order) -> None:
    payments = PaymentService(services.sessions, services.clock, services.orders)
    await payments.confirmed(
        Confirmed("telegram", f"tg-{order.id}", order.id, order.total, order.currency, {})
    )


async def test_goods_reserved_by_an_edit_are_released_by_the_cancellation(services):
    # given an order of a free line, which holds nothing
    shop = await make_shop(services, "platform")
    await make_product(services, shop, "A", on_hand=5)
    order = await make_order(services, shop, item("FREE", 1, 1000))
    manager = ActorRef.user(shop.manager.id)
    assert await facts(services, order) == [(False, False)]
    # when an edit puts goods of the catalogue in it, then it is cancelled
    await services.orders.open(order.id, manager)
    await services.orders.edit_items(order.id, manager, [item("A", 2, 1000)])
    assert await facts(services, order) == [(True, False)]
    assert await counts(services, shop, "A") == (5, 2, 3)
    await services.orders.apply(order.id, manager, "cancel", {"reason": "other", "comment": "x"})
    # then what the edit reserved is given back
    assert await counts(services, shop, "A") == (5, 0, 5)
    kinds = [(kind, delta) for kind, _, delta, _ in await movements(services, shop, "A")]
    assert kinds[-2:] == [("reserve", 2), ("release", -2)]


async def test_the_migration_fills_both_from_the_rows(services, engine, database_url):
    # given an order holding goods, one paid through Telegram, one with neither
    shop = await make_shop(services, "reseller")
    await make_product(services, shop, "A", on_hand=5)
    holding = await make_order(services, shop, item("A", 1))
    paid = await make_order(services, shop, item("FREE", 1))
    await paid_by_telegram(services, shop, paid)
    neither = await make_order(services, shop, item("FREE", 1))
    expected = [(True, False), (False, True), (False, False)]
    assert await facts(services, holding, paid, neither) == expected
    # when the columns are dropped and added again
    await engine.dispose()
    await asyncio.to_thread(downgrade, database_url, "0022")
    await asyncio.to_thread(upgrade, database_url)
    # then they say the same
    assert await facts(services, holding, paid, neither) == expected
