"""A finished order transaction's session and connection are freed as soon as they close, by
their reference counts: nothing of them is left in a reference cycle for the garbage
collector, whose passes over such leftovers took a fifth of the CPU of a burst of taps
(issue 15, bench/RESULTS.md nineteenth round)."""

from __future__ import annotations

import gc

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.orders.actors import ActorRef
from tests.factories import make_order, make_shop


def left_in_cycles() -> list[str]:
    """The sessions and connections only the garbage collector would free, by type name."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return [type(o).__name__ for o in gc.garbage if isinstance(o, (Session, Connection))]
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
