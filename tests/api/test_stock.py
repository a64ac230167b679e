"""Stock through the storefront API (issue 19): an order beyond the stock is refused with 409
naming the SKUs; an out-of-stock cancellation zeroes the product and the storefront hears of
it by a signed `product.updated` webhook; an unknown SKU still orders as before."""

from __future__ import annotations

from services.messaging.webhooks.events import verify
from services.orders.actors import ActorRef
from tests.api.conftest import order_body
from tests.api.test_webhooks import (  # noqa: F401 (the fixtures)
    poster,
    pump_for,
    storefront,
    storefront_settings,
)
from tests.products_factories import counts, make_product


def line(sku: str, quantity: int) -> dict:
    return {"sku": sku, "name": f"Item {sku}", "quantity": quantity, "unit_price": "100.00"}


async def test_out_of_stock_cancellation_zeroes_tells_the_storefront_and_refuses_more(
    api,
    storefront,  # noqa: F811
    poster,  # noqa: F811
):
    # given a product with 3 for sale and a storefront listening to webhooks
    settings = storefront_settings(api)
    secret = await settings.set_url(api.shop_id, storefront.url)
    await make_product(api.container, api.shop, "CAT-BED", on_hand=3)

    # when the storefront orders 2, it is placed and 2 are held
    status, body, _ = await api.post(order_body(external_id="w-1", items=[line("CAT-BED", 2)]))
    assert status == 201, body
    assert await counts(api.container, api.shop, "CAT-BED") == (3, 2, 1)

    # and an order beyond what is left is refused, naming the SKU, and changes nothing
    status, body, _ = await api.post(
        order_body(external_id="w-2", items=[line("CAT-BED", 2), line("FREE-1", 1)])
    )
    assert status == 409
    assert body["error"]["code"] == "out_of_stock"
    assert body["error"]["skus"] == ["CAT-BED"]
    assert await counts(api.container, api.shop, "CAT-BED") == (3, 2, 1)

    # when the manager cancels the first order: out of stock
    manager = ActorRef.user(api.shop.manager.id)
    [order_id] = [o.id for o in await _orders(api)]
    await api.container.orders.apply(order_id, manager, "cancel", {"reason": "out_of_stock"})

    # then nothing is left for sale, and the storefront is told, signed
    assert await counts(api.container, api.shop, "CAT-BED") == (0, 0, 0)
    pump = pump_for(api, poster)
    while await pump.run_once():
        pass
    updates = [
        (headers, raw)
        for headers, raw in storefront.received
        if headers["X-ShopBot-Event"] == "product.updated"
    ]
    headers, raw = updates[-1]
    assert verify(secret, headers["X-ShopBot-Signature"], raw)
    sent = storefront.bodies()[storefront.received.index((headers, raw))]
    assert (sent["sku"], sent["available"], sent["change"]) == ("CAT-BED", 0, "out_of_stock")

    # and a new order for it is refused with 409; an unknown SKU orders as before
    status, body, _ = await api.post(order_body(external_id="w-3", items=[line("CAT-BED", 1)]))
    assert (status, body["error"]["skus"]) == (409, ["CAT-BED"])
    status, body, _ = await api.post(order_body(external_id="w-4", items=[line("FREE-1", 5)]))
    assert status == 201, body


async def _orders(api):
    from sqlalchemy import select

    from storage.models import Order

    async with api.container.sessions() as session:
        return list(await session.scalars(select(Order).order_by(Order.id)))
