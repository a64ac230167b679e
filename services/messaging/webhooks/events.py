"""The webhook outbox row of a status change, and how its body is signed.

Written with the order's other notifications, in the transaction of the change (see
services.orders.notices), for orders the storefront sent (they have its external id).
Whether the shop wants webhooks at all is the pump's question, when it sends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from services.messaging.notifications.outbox import Outbox
from storage.models import Order, OrderEvent

CHANNEL = "webhook"
STATUS_CHANGED = "order.status_changed"


def status_changed(outbox: Outbox, order: Order, event: OrderEvent) -> None:
    outbox.add(
        key=f"order:{order.id}:event:{event.id}:webhook",
        channel=CHANNEL,
        audience="shop",
        topic=STATUS_CHANGED,
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "number": order.number,
            "external_id": order.external_id,
            "status": event.to_status,
            "previous_status": event.from_status,
            "at": event.created_at.isoformat(),
        },
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


def verify(secret: str, header: str, body: bytes) -> bool:
    """What a storefront does with the header (used by the tests, and a model for docs)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    expected = signature(secret, int(parts["t"]), body)
    return hmac.compare_digest(expected, header)
