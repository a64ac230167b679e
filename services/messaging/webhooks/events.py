"""The storefront's webhook events: which there are, the outbox rows that carry them, and how
a body is signed.

Every order of the shop is covered, whichever way it came (the storefront, a phone order, a
platform connector, a split). The rows are written with the order's other notifications, in
the transaction of the change (services.orders.notices and .editing); whether the shop wants
webhooks at all is the pump's question, when it sends.

Two signatures on every POST, over the same bytes:
- `X-ShopBot-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, ShopBot's own;
- Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
  `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, the key
  being the secret's base64 after its `whsec_` prefix, so the storefront can verify with
  an off-the-shelf library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from enum import StrEnum
from typing import Any

from services.messaging.notifications.outbox import Outbox
from storage.models import Order, OrderEvent

CHANNEL = "webhook"
SECRET_PREFIX = "whsec_"


class WebhookEvent(StrEnum):
    """Every event a storefront may receive: the one list (the OpenAPI document, the docs
    and the pump read it)."""

    ORDER_CREATED = "order.created"  # a new order, from any channel
    ORDER_STATUS_CHANGED = "order.status_changed"  # every status change
    ORDER_UPDATED = "order.updated"  # goods, delivery, payment, discount, contact edited
    ORDER_CANCELLED = "order.cancelled"  # the order ended unfulfilled (with the status change)
    PRODUCT_UPDATED = "product.updated"  # a product's stock was corrected (services.products)


# Kept for readers of the old name.
STATUS_CHANGED = WebhookEvent.ORDER_STATUS_CHANGED


def _row(outbox: Outbox, order: Order, key: str, event: WebhookEvent, **payload: Any) -> None:
    outbox.add(
        key=f"order:{order.id}:{key}:webhook",
        channel=CHANNEL,
        audience="shop",
        topic=str(event),
        shop_id=order.shop_id,
        order_id=order.id,
        payload={"number": order.number, "external_id": order.external_id, **payload},
    )


def order_created(outbox: Outbox, order: Order, at: str) -> None:
    _row(
        outbox,
        order,
        "created",
        WebhookEvent.ORDER_CREATED,
        status=order.status,
        source=order.source,
        total=order.total,
        currency=order.currency,
        at=at,
    )


def status_changed(outbox: Outbox, order: Order, event: OrderEvent, *, cancelled: bool) -> None:
    """The change itself; an order that ends unfulfilled also gets `order.cancelled`."""
    common = {"status": event.to_status, "at": event.created_at.isoformat()}
    _row(
        outbox,
        order,
        f"event:{event.id}",
        WebhookEvent.ORDER_STATUS_CHANGED,
        previous_status=event.from_status,
        **common,
    )
    if cancelled:
        inputs = (event.payload or {}).get("inputs") or {}
        _row(
            outbox,
            order,
            f"event:{event.id}:cancelled",
            WebhookEvent.ORDER_CANCELLED,
            reason=inputs.get("reason"),
            **common,
        )


def order_updated(outbox: Outbox, order: Order, event: OrderEvent) -> None:
    _row(
        outbox,
        order,
        f"event:{event.id}",
        WebhookEvent.ORDER_UPDATED,
        change=event.action,
        status=order.status,
        total=order.total,
        currency=order.currency,
        at=event.created_at.isoformat(),
    )


def event_body(event_id: str, topic: str, payload: dict[str, Any]) -> bytes:
    """The JSON the storefront receives; signed byte for byte as sent."""
    body = {"id": event_id, "event": topic, **payload}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`X-ShopBot-Signature`: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.

    The time inside the signed text lets the storefront refuse an old message replayed.
    """
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def standard_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret, decoded as the Standard Webhooks
    libraries decode it (padding added, characters outside base64 skipped), so a secret
    made before the secrets were plain base64 still verifies with them."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "==")
    except (binascii.Error, ValueError):
        return encoded.encode()


def standard_signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, event_id: str, topic: str, timestamp: int, body: bytes) -> dict:
    """Every header a webhook POST carries, both signatures included."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "ShopBot-Webhooks/1",
        "X-ShopBot-Event": topic,
        "X-ShopBot-Event-Id": event_id,
        "X-ShopBot-Signature": signature(secret, timestamp, body),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, event_id, timestamp, body),
    }


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a storefront does with the header (used by the tests, and a model for docs)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    expected = signature(secret, int(parts["t"]), body)
    return hmac.compare_digest(expected, header)
