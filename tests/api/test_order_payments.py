"""The storefront's own checkout took the money (issue 17): POST /v1/orders/{number}/payments
marks the order paid through the payments service, once per reference; a wrong amount flags the
order for the shop and changes nothing of its money; a bad body is refused and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from services.orders.actors import ActorRef
from storage.models import LedgerEntry, Order, OrderEvent
from tests.api.conftest import order_body


async def billed(api, external_id: str = "web-1") -> Order:
    status, body, _ = await api.post(order_body(external_id=external_id))
    assert status == 201, body
    number = body["orders"][0]["number"]
    async with api.container.sessions() as session:
        order = await session.scalar(
            select(Order).where(Order.shop_id == api.shop_id, Order.number == number)
        )
    await api.container.orders.apply(order.id, ActorRef.user(api.shop.owner.id), "confirm")
    return order


async def fresh(api, order_id: int) -> Order:
    async with api.container.sessions() as session:
        return await session.get(Order, order_id)


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


async def test_the_storefront_marks_the_order_paid_once_per_reference(api):
    order = await billed(api)
    url = f"/v1/orders/{order.number}/payments"
    paying = {"amount": money(order.total), "reference": "stripe:pi_123"}

    status, body, _ = await api.send("POST", url, paying, key="p-1")

    assert status == 200, body
    assert body["payment"]["outcome"] == "paid"
    paid = await fresh(api, order.id)
    assert (paid.status, paid.amount_paid) == ("preparing_shipment", order.total)
    # the same request replays; the same reference under another key changes nothing
    again = await api.send("POST", url, paying, key="p-1")
    assert again[:2] == (status, body)
    status, body, _ = await api.send("POST", url, paying, key="p-2")
    assert status == 200 and body["payment"]["outcome"] == "duplicate"
    async with api.container.sessions() as session:
        marked = await session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid")
        )
        event = await session.scalar(
            select(OrderEvent).where(
                OrderEvent.order_id == order.id, OrderEvent.action == "mark_paid"
            )
        )
        reserved = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.order_id == order.id, LedgerEntry.kind == "reserve_income")
        )
    assert (marked, reserved) == (1, 1)
    assert event.channel == "payment"


async def test_a_wrong_amount_flags_the_order_and_a_bad_body_changes_nothing(api):
    order = await billed(api)
    url = f"/v1/orders/{order.number}/payments"
    status, body, _ = await api.send(
        "POST", url, {"amount": "1.00", "reference": "pi_short"}, key="p-1"
    )
    assert status == 200 and body["payment"]["outcome"] == "mismatch"
    flagged = await fresh(api, order.id)
    assert (flagged.status, flagged.amount_paid, flagged.problem) == ("awaiting_payment", 0, True)
    for bad in (
        {"amount": 3300, "reference": "pi_1"},
        {"amount": "3300.00"},
        {"amount": "3300.00", "reference": "../x y"},
        {"amount": "3300.001", "reference": "pi_1"},
    ):
        status, body, _ = await api.send("POST", url, bad, key=f"bad-{len(str(bad))}")
        assert status == 422, (bad, body)
    assert (await fresh(api, order.id)).amount_paid == 0
