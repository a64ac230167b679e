"""What a stock change tells others: the storefront a `product.updated` webhook, the staff a
low-stock alert. Outbox rows, written in the transaction of the change (DESIGN
"Notifications"); keys name the change, so a retried transaction writes them once."""

from __future__ import annotations

from datetime import datetime

from services.messaging.notifications.outbox import Outbox
from services.messaging.webhooks.events import CHANNEL as WEBHOOK
from services.messaging.webhooks.events import WebhookEvent
from storage.models import Product

LOW_STOCK = "low_stock"  # the Telegram topic: staff hear of a product running out


def product_state(product: Product) -> dict:
    """The product as the storefront and the API see it."""
    return {
        "sku": product.sku,
        "title": product.title,
        "price": product.price,
        "currency": product.currency,
        "availability": product.availability,
        "on_hand": product.on_hand,
        "reserved": product.reserved,
        "available": product.available,
        "archived": product.archived,
    }


def product_updated(outbox: Outbox, product: Product, change: str, now: datetime) -> None:
    """The storefront learns the product's new counts (it stops selling what is gone)."""
    outbox.add(
        key=f"product:{product.id}:{change}:{now.isoformat()}:webhook",
        channel=WEBHOOK,
        audience="shop",
        topic=str(WebhookEvent.PRODUCT_UPDATED),
        shop_id=product.shop_id,
        payload={**product_state(product), "change": change, "at": now.isoformat()},
    )


def low_stock_if_crossed(outbox: Outbox, product: Product, before: int, now: datetime) -> None:
    """Staff are told once when the available count falls to the product's threshold."""
    threshold = product.low_stock_at
    if threshold is None or not product.available <= threshold < before:
        return
    outbox.add(
        key=f"product:{product.id}:low:{now.isoformat()}:{product.available}",
        channel="telegram",
        audience="shop",
        topic=LOW_STOCK,
        shop_id=product.shop_id,
        payload={
            "product_id": product.id,
            "sku": product.sku,
            "title": product.title,
            "available": product.available,
            "threshold": threshold,
        },
    )
