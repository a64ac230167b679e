"""Products and stock (issue 19): every movement an order makes, the shop's choice beyond
the stock, the last item raced for, the out-of-stock cancellation (003)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.orders.actors import ActorRef, Channel
from services.products import stock
from services.products.catalog import ProductDraft
from services.refusals import OrderRefused, Problem, Reason, Refused
from storage.models import Order
from tests.factories import draft, item, make_order, make_shop
from tests.products_factories import (
    counts,
    make_product,
    movements,
    outbox_rows,
    product_service,
)
from tests.returns_factories import received_order, return_service


async def order_count(services) -> int:
    async with services.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Order))


async def test_an_order_reserves_and_a_cancellation_releases(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=5)
    order = await make_order(services, shop, item("A", 2))
    assert await counts(services, shop, "A") == (5, 2, 3)

    manager = ActorRef.user(shop.manager.id)
    await services.orders.apply(order.id, manager, "cancel", {"reason": "cannot_reach_buyer"})
    assert await counts(services, shop, "A") == (5, 0, 5)
    assert await movements(services, shop, "A") == [
        ("correction", 5, 0, None),
        ("reserve", 0, 2, order.id),
        ("release", 0, -2, order.id),
    ]


async def test_shipping_writes_off_and_a_return_puts_back(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=5, returnable=True, return_days=14)
    order = await received_order(services, shop, item("A", 3))
    # the product's rules came with the line: returnable for 14 days
    line = order.items[0]
    assert (line.returnable, line.return_days) == (True, 14)
    assert await counts(services, shop, "A") == (2, 0, 2)

    returns = return_service(services)
    buyer, manager = ActorRef.user(shop.buyer_user.id), ActorRef.user(shop.manager.id)
    request = await returns.request(order.id, buyer, {line.id: 2}, "Wrong size")
    await returns.approve(request.id, manager)
    await returns.goods_received(request.id, manager)
    assert await counts(services, shop, "A") == (4, 0, 4)
    kinds = [m[0] for m in await movements(services, shop, "A")]
    assert kinds == ["correction", "reserve", "write_off", "return"]


async def test_a_line_beyond_the_stock_is_refused_naming_the_skus(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=1)
    await make_product(services, shop, "B", on_hand=0)
    await make_product(services, shop, "C", on_hand=9)
    before = await order_count(services)

    with pytest.raises(OrderRefused) as refused:
        await make_order(services, shop, item("A", 2), item("B", 1), item("C", 1))
    assert refused.value.code is Problem.OUT_OF_STOCK
    assert refused.value.params["skus"] == ["A", "B"]
    # and nothing changed: no order, C not held
    assert await order_count(services) == before
    assert await counts(services, shop, "C") == (9, 0, 9)


async def test_the_shop_may_take_it_as_made_to_order(services):
    shop = await make_shop(services)
    await product_service(services).set_beyond_stock(shop.id, shop.owner.id, "made_to_order")
    await make_product(services, shop, "A", on_hand=1)
    await make_product(services, shop, "B", on_hand=3)
    orders = await services.orders.create_orders(
        shop.id, draft(item("A", 2), item("B", 1)), ActorRef.system(Channel.API), source="api"
    )
    by_kind = {o.availability: [i.sku for i in o.items] for o in orders}
    assert by_kind == {"in_stock": ["B"], "made_to_order": ["A"]}
    assert await counts(services, shop, "A") == (1, 0, 1)
    assert await counts(services, shop, "B") == (3, 1, 2)


async def test_unknown_skus_are_free_lines_as_before(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=0)
    order = await make_order(services, shop, item("FREE", 7))
    assert [i.sku for i in order.items] == ["FREE"]
    assert await counts(services, shop, "A") == (0, 0, 0)


async def test_made_to_order_products_reserve_nothing(services):
    shop = await make_shop(services)
    await make_product(services, shop, "M", on_hand=0, availability="made_to_order")
    order = await make_order(services, shop, item("M", 2))
    assert order.availability == "made_to_order"
    assert await counts(services, shop, "M") == (0, 0, 0)


async def test_the_last_item_goes_to_one_of_many(services):
    shop = await make_shop(services)
    await make_product(services, shop, "LAST", on_hand=1)

    async def buy(n: int):
        try:
            return await make_order(services, shop, item("LAST", 1), phone=f"+7916123450{n}")
        except OrderRefused as refused:
            return refused

    outcomes = await asyncio.gather(*(buy(n) for n in range(8)))
    placed = [o for o in outcomes if isinstance(o, Order)]
    refused = [o for o in outcomes if isinstance(o, OrderRefused)]
    assert len(placed) == 1
    assert {r.code for r in refused} == {Problem.OUT_OF_STOCK}
    assert await counts(services, shop, "LAST") == (1, 1, 0)


async def test_out_of_stock_cancellation_zeroes_and_tells(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=4, low_stock_at=1)
    held = await make_order(services, shop, item("A", 1), phone="+79161230001")
    order = await make_order(services, shop, item("A", 2))
    assert await counts(services, shop, "A") == (4, 3, 1)

    manager = ActorRef.user(shop.manager.id)
    services.clock.advance(timedelta(minutes=5))
    await services.orders.apply(order.id, manager, "cancel", {"reason": "out_of_stock"})
    # nothing is left for sale; the other order keeps what it holds
    assert await counts(services, shop, "A") == (1, 1, 0)
    # (released 2, then the 3 that were for sale are gone)
    assert (await movements(services, shop, "A"))[-2:] == [
        ("release", 0, -2, order.id),
        ("out_of_stock", -3, 0, order.id),
    ]
    # the storefront is told, and the staff each time it fell to the threshold
    [webhook] = [
        r
        for r in await outbox_rows(services, shop, "product.updated")
        if r.payload["change"] == "out_of_stock"
    ]
    assert webhook.channel == "webhook"
    assert (webhook.payload["sku"], webhook.payload["available"]) == ("A", 0)
    alerts = await outbox_rows(services, shop, stock.notices.LOW_STOCK)
    assert [a.payload["available"] for a in alerts] == [1, 0]
    # and a new order for it is refused; the held one still ships
    with pytest.raises(OrderRefused) as refused:
        await make_order(services, shop, item("A", 1), phone="+79161230002")
    assert refused.value.code is Problem.OUT_OF_STOCK
    assert (await services.orders.get(held.id, manager)).status == "awaiting_confirmation"


async def test_a_correction_keeps_its_reason_and_only_editors_make_it(services):
    shop = await make_shop(services)
    await make_product(services, shop, "A", on_hand=2)
    products = product_service(services)
    await products.set_stock(shop.id, shop.manager.id, "A", 7, "recount")
    assert await counts(services, shop, "A") == (7, 0, 7)
    log = await products.movements(shop.id, shop.packer.id, "A")
    assert (log[0].kind, log[0].on_hand_delta, log[0].reason) == ("correction", 5, "recount")

    with pytest.raises(Refused) as refused:
        await products.set_stock(shop.id, shop.packer.id, "A", 0, "gone")
    assert refused.value.code is Reason.FORBIDDEN
    with pytest.raises(Refused) as refused:
        await products.set_stock(shop.id, shop.stranger.id, "A", 0, "gone")
    assert refused.value.code is Reason.NOT_FOUND
    with pytest.raises(Refused) as refused:
        await products.set_stock(shop.id, shop.manager.id, "A", -1, "gone")
    assert refused.value.params["field"] == "on_hand"
    assert await counts(services, shop, "A") == (7, 0, 7)


async def test_search_finds_cyrillic_titles_and_variants(services):
    shop = await make_shop(services)
    products = product_service(services)
    await make_product(services, shop, "TEA-1", title="Чай зелёный")
    await make_product(services, shop, "TS-M", title="Футболка", variant="M, красная")
    await products.save(
        shop.id, shop.owner.id, ProductDraft("TS-L", "Футболка", variant="L", parent_sku="TS-M")
    )
    found = await products.search(shop.id, shop.packer.id, "чай")
    assert [p.sku for p in found] == ["TEA-1"]
    found = await products.search(shop.id, shop.packer.id, "футболка КРАСНАЯ")
    assert [p.sku for p in found] == ["TS-M"]
    variant = await products.get(shop.id, shop.packer.id, "TS-L")
    parent = await products.get(shop.id, shop.packer.id, "TS-M")
    assert variant.parent_id == parent.id


async def test_edited_goods_move_the_reservation_and_a_split_takes_its_share(services):
    shop = await make_shop(services, "platform")
    await make_product(services, shop, "A", on_hand=5)
    await make_product(services, shop, "B", on_hand=2)
    order = await make_order(services, shop, item("A", 1, 1000))
    manager = ActorRef.user(shop.manager.id)
    await services.orders.open(order.id, manager)

    # the goods edited during the call: A 1 -> 3, and B added
    edited = await services.orders.edit_items(
        order.id, manager, [item("A", 3, 1000), item("B", 2, 450)]
    )
    assert await counts(services, shop, "A") == (5, 3, 2)
    assert await counts(services, shop, "B") == (2, 2, 0)
    # an edit beyond the stock is refused and changes nothing
    with pytest.raises(OrderRefused) as refused:
        await services.orders.edit_items(order.id, manager, [item("B", 3, 450)])
    assert (refused.value.code, refused.value.params["skus"]) == (Problem.OUT_OF_STOCK, ["B"])
    assert await counts(services, shop, "B") == (2, 2, 0)

    # a split moves 2 of A with what they hold; cancelling that part releases only it
    await services.orders.apply(order.id, manager, "confirm")
    a_line = next(i for i in edited.items if i.sku == "A")
    _left, new = await services.orders.split(
        order.id, manager, move={a_line.id: 2}, reason="different_warehouses"
    )
    assert await counts(services, shop, "A") == (5, 3, 2)
    await services.orders.apply(new.id, manager, "cancel", {"reason": "other", "comment": "x"})
    assert await counts(services, shop, "A") == (5, 1, 4)
    kinds = [(m[0], m[2], m[3]) for m in await movements(services, shop, "A")]
    assert kinds[-3:] == [("split", -2, order.id), ("split", 2, new.id), ("release", -2, new.id)]
