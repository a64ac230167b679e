"""A finished order transaction's session, connection and orders are freed as soon as
nothing uses them, by their reference counts: nothing of them is left in a reference cycle
for the garbage collector, which then seldom needs to run (bot/heap.py; issue 15,
bench/RESULTS.md nineteenth round)."""

from __future__ import annotations

import gc

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.orders.actors import ActorRef
from services.orders.drafts import ItemDraft
from storage.models import Buyer, Order, OrderItem
from tests.factories import make_order, make_shop

WATCHED = (Session, Connection, Order, OrderItem, Buyer)


def left_in_cycles() -> list[str]:
    """The sessions, connections and orders only the garbage collector would free, by type
    name."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if isinstance(o, WATCHED)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


async def test_a_status_change_leaves_no_session_for_the_garbage_collector(services):
    shop = await make_shop(services)
    orders = [await make_order(services, shop) for _ in range(3)]
    manager = ActorRef.user(shop.manager.id)
    gc.collect()  # what the set-up left
    gc.disable()
    try:
        for order in orders:
            result = await services.orders.apply(order.id, manager, "confirm")
            assert result.order.status == "awaiting_payment"
        assert left_in_cycles() == []
    finally:
        gc.enable()


async def test_a_new_order_with_its_goods_leaves_nothing_for_the_garbage_collector(services):
    shop = await make_shop(services)
    gc.collect()  # what the set-up left
    gc.disable()
    try:
        for _ in range(3):
            order = await make_order(
                services, shop, ItemDraft("A-1", "Tea", 2, 500), ItemDraft("B-2", "Cup", 1, 900)
            )
            assert [item.sku for item in order.items] == ["A-1", "B-2"]
        del order
        assert left_in_cycles() == []
    finally:
        gc.enable()
