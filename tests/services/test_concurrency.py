"""Concurrent changes to one order: exactly one applies (DESIGN "must")."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Problem
from storage.models import OrderEvent
from tests.factories import make_order, make_shop


async def test_fifty_concurrent_applies_make_one_transition(services):
    # given an order awaiting confirmation
    shop = await make_shop(services)
    order = await make_order(services, shop)
    manager = ActorRef.user(shop.manager.id)

    # when 50 taps of "confirm" arrive at once
    async def tap():
        try:
            return await services.orders.apply(order.id, manager, "confirm")
        except OrderRefused as refused:
            return refused

    outcomes = await asyncio.gather(*(tap() for _ in range(50)))

    # then one transition applied and 49 were told it is already done
    applied = [o for o in outcomes if not isinstance(o, OrderRefused)]
    refused = [o for o in outcomes if isinstance(o, OrderRefused)]
    assert len(applied) == 1
    assert len(refused) == 49
    assert {r.code for r in refused} == {Problem.ALREADY_DONE}
    async with services.sessions() as session:
        confirms = list(
            await session.scalars(
                select(OrderEvent).where(
                    OrderEvent.order_id == order.id, OrderEvent.action == "confirm"
                )
            )
        )
    assert len(confirms) == 1
    fresh = await services.orders.get(order.id, manager)
    assert fresh.status == "awaiting_payment"
    assert fresh.version == order.version + 1


async def test_concurrent_edit_and_transition_both_land_in_order(services):
    # given an order; an edit of the delivery and a confirmation race
    shop = await make_shop(services)
    order = await make_order(services, shop)
    owner = ActorRef.user(shop.owner.id)
    results = await asyncio.gather(
        services.orders.change_delivery(order.id, owner, method="courier", cost=700),
        services.orders.apply(order.id, owner, "confirm"),
        return_exceptions=True,
    )
    # then both applied one after the other, and nothing was lost
    assert not [r for r in results if isinstance(r, Exception)]
    fresh = await services.orders.get(order.id, owner)
    assert (fresh.status, fresh.delivery_method, fresh.delivery_cost) == (
        "awaiting_payment",
        "courier",
        700,
    )
    assert fresh.version == order.version + 2
