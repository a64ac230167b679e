"""Order transactions take their turn (ORDER_MAX_IN_FLIGHT, services/orders/in_flight.py) on
the real database: beyond the limit a transaction starts only when one in flight ends, and a
burst of status changes is applied whole."""

from __future__ import annotations

import asyncio

from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.orders.work import OrderWork
from tests.factories import make_order, make_shop


async def test_a_transaction_beyond_the_limit_starts_when_one_in_flight_ends(services):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    work = OrderWork(services.sessions, services.clock, services.workflows, max_in_flight=2)
    inside: list[int] = []
    go = asyncio.Event()

    def reading(number: int):
        async def transaction(unit) -> int:
            inside.append(number)
            await asyncio.wait_for(go.wait(), 10)
            loaded = await unit.load(order.id, lock=False, items=False)
            return loaded.version

        return transaction

    tasks = [asyncio.create_task(work.run(reading(n))) for n in range(5)]
    for _ in range(50):  # entering a transaction's work takes no database round trip
        await asyncio.sleep(0)
    assert inside == [0, 1]

    go.set()
    assert await asyncio.gather(*tasks) == [order.version] * 5
    assert inside == [0, 1, 2, 3, 4]


async def test_a_burst_of_status_changes_under_a_limit_of_one_is_applied_whole(services):
    shop = await make_shop(services)
    orders = [await make_order(services, shop) for _ in range(8)]
    manager = ActorRef.user(shop.manager.id)
    one_at_a_time = OrderService(
        OrderWork(services.sessions, services.clock, services.workflows, max_in_flight=1)
    )

    results = await asyncio.gather(
        *(one_at_a_time.apply(order.id, manager, "confirm") for order in orders)
    )

    assert [result.order.status for result in results] == ["awaiting_payment"] * 8
    for order in orders:
        fresh = await services.orders.get(order.id, manager)
        assert (fresh.status, fresh.version) == ("awaiting_payment", order.version + 1)
