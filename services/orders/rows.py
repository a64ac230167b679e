"""Order lines and totals: building item rows and keeping the order's sums right."""

from __future__ import annotations

from services.orders.drafts import ItemDraft
from services.orders.money import order_total
from storage.models import Order, OrderItem, Shop


def item_row(position: int, item: ItemDraft) -> OrderItem:
    return OrderItem(
        position=position,
        sku=item.sku,
        name=item.name.strip(),
        quantity=item.quantity,
        unit_price=item.unit_price,
        discount=item.discount,
        availability=item.availability,
        returnable=item.returnable,
        return_days=item.return_days,
    )


def recalculate(order: Order) -> None:
    order.items_total = sum(item.line_total for item in order.items)
    order.total = order_total(order.items_total, order.discount, order.delivery_cost)


def delivery_price(shop: Shop, method: str) -> int:
    """The shop's price for a delivery method (settings.delivery_prices), else free."""
    prices = (shop.settings or {}).get("delivery_prices", {})
    return int(prices.get(method, 0))
