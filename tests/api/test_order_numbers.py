"""New orders' public numbers on PostgreSQL (services/orders/numbers.py): taken in a
statement of their own, so one shop's new orders do not wait for each other's transactions."""

from __future__ import annotations

import asyncio

import pytest

from handlers.http.api.schema import parse_request, to_draft
from services.orders.actors import ActorRef, Channel
from tests.api.conftest import order_body

API = ActorRef.system(Channel.API)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_new_order_does_not_wait_for_another_of_its_shop_still_open(api):
    orders = api.container.orders
    opened, release = asyncio.Event(), asyncio.Event()

    async def hold_open(_session, _orders) -> None:
        opened.set()
        await release.wait()

    # given an order whose transaction has taken its number and is still open
    first = asyncio.create_task(
        orders.create_orders(
            api.shop_id,
            to_draft(parse_request(order_body(external_id="web-1")), "RUB"),
            API,
            source="api",
            with_orders=hold_open,
        )
    )
    await asyncio.wait_for(opened.wait(), 10)
    try:
        # when another order of the shop comes in, then it is made meanwhile (in the
        # order's transaction the shop's counter row would stay locked until the first ends)
        [second] = await asyncio.wait_for(
            orders.create_orders(
                api.shop_id,
                to_draft(parse_request(order_body(external_id="web-2")), "RUB"),
                API,
                source="api",
            ),
            10,
        )
    finally:
        release.set()
    [held] = await first
    # and each has its own number, in the order they were taken
    assert (held.number, second.number) == (1, 2)
    assert await api.order_count() == 2
