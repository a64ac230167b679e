"""A property of stock (issue 19), through the real services and database: whatever orders
are placed, cancelled (for any reason) or shipped and however staff recount, on hand is the
sum of the product's movements, reserved is what its open unshipped orders ask for, and
neither it nor what is available is ever negative (the shop refuses beyond the stock)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Refused
from storage.models import Order, OrderItem, Product, StockMovement
from tests.factories import item, make_order, make_shop
from tests.products_factories import make_product, product_service

HOLDING = ("awaiting_confirmation", "awaiting_payment", "paid", "preparing_shipment")
_skus = itertools.count()

steps = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(1, 4)),
        st.tuples(st.sampled_from(["cancel", "out_of_stock", "ship"]), st.integers(0, 9)),
        st.tuples(st.just("count"), st.integers(0, 12)),
    ),
    min_size=1,
    max_size=12,
)


async def check(services, shop, sku: str) -> None:
    async with services.sessions() as session:
        product = await session.scalar(
            select(Product).where(Product.shop_id == shop.id, Product.sku == sku)
        )
        moved = await session.scalar(
            select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0)).where(
                StockMovement.product_id == product.id
            )
        )
        held = await session.scalar(
            select(func.coalesce(func.sum(OrderItem.quantity), 0))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.shop_id == shop.id, OrderItem.sku == sku, Order.status.in_(HOLDING))
        )
    assert product.on_hand == moved
    assert product.reserved == held
    assert product.reserved >= 0 and product.available >= 0


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(initial=st.integers(0, 8), plan=steps)
async def test_stock_always_adds_up(services, shops_cache, initial, plan):
    shop = shops_cache.get("stock")
    if shop is None:
        shop = shops_cache["stock"] = await make_shop(services)
    sku = f"P-{next(_skus)}"
    await make_product(services, shop, sku, on_hand=initial)
    manager = ActorRef.user(shop.manager.id)
    orders: list[int] = []
    for step, value in plan:
        try:
            if step == "order":
                orders.append((await make_order(services, shop, item(sku, value))).id)
            elif step == "count":
                await product_service(services).set_stock(
                    shop.id, shop.manager.id, sku, value, "recount"
                )
            elif orders:
                order_id = orders[value % len(orders)]
                if step == "ship":
                    for action in ("confirm", "mark_paid", "start_preparing"):
                        try:
                            await services.orders.apply(order_id, manager, action)
                        except OrderRefused:
                            pass
                    inputs = {"carrier": "CDEK", "track_code": "RA123456789RU"}
                    await services.orders.apply(order_id, manager, "ship", inputs)
                else:
                    reason = "out_of_stock" if step == "out_of_stock" else "cannot_reach_buyer"
                    await services.orders.apply(order_id, manager, "cancel", {"reason": reason})
        except (OrderRefused, Refused):
            pass  # refused: nothing changed, which the check below holds it to
        await check(services, shop, sku)
