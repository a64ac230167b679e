"""Orders the buyer has received, for the tests of returns and reviews."""

from __future__ import annotations

from services.buyers.reviews import ReviewService
from services.money.returns import ReturnService
from services.orders.actors import ActorRef
from services.orders.work import OrderWork
from storage.models import Order
from tests.factories import Shop, bind_buyer, item, make_order


def returnable(sku: str, quantity: int = 1, price: int = 10_000, days: int = 14, **extra):
    return item(sku, quantity, price, returnable=True, return_days=days, **extra)


async def received_order(services, shop: Shop, *items, bind: bool = True, **draft) -> Order:
    """A marketplace order taken through confirmation, payment and shipping to "received"."""
    order = await make_order(services, shop, *(items or [returnable("A", 2)]), **draft)
    if bind:
        await bind_buyer(services, order, shop.buyer_user)
    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(order.id, manager, "mark_paid")
    await services.orders.apply(
        order.id, manager, "ship", {"carrier": "CDEK", "track_code": "AB123456"}
    )
    buyer = ActorRef.user(shop.buyer_user.id) if bind else ActorRef.buyer(order.buyer_id)
    await services.orders.apply(order.id, buyer, "confirm_receipt")
    return await services.orders.get(order.id, manager)  # with its items


def return_service(services) -> ReturnService:
    return ReturnService(OrderWork(services.sessions, services.clock, services.workflows))


def review_service(services) -> ReviewService:
    return ReviewService(OrderWork(services.sessions, services.clock, services.workflows))
