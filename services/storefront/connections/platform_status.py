"""Which of our status changes a connected platform hears, as outbox rows of channel
"connector" written in the transaction of the change (the pump in `pump` sends them).

The shop's workflow is its own, so the platform's word is read from what the change means,
not from status codes: an order that ended unfulfilled is cancelled; one that ended well is
completed; a step that took a track code shipped it; the first step out of the initial
status means the shop took the order on (processing). Other steps tell the platform nothing.
"""

from __future__ import annotations

from services.messaging.notifications.outbox import Outbox
from services.storefront.connectors.base import PlatformStatus
from services.workflow.definition import StatusKind, Workflow
from storage.models import Order, OrderEvent

CHANNEL = "connector"
# An order from a connected platform has the platform's name as its source and
# "<platform>:<its id>" as its external id (the connectors' OrderDraft.external_id).
PLATFORMS = ("woocommerce", "shopify", "tilda")
# What each platform takes back (the connectors' `sends`); Tilda has no API for statuses.
SENDS: dict[str, frozenset[PlatformStatus]] = {
    "woocommerce": frozenset(PlatformStatus),
    "shopify": frozenset(
        {PlatformStatus.SHIPPED, PlatformStatus.COMPLETED, PlatformStatus.CANCELLED}
    ),
    "tilda": frozenset(),
}


def platform_order_id(order: Order) -> str | None:
    if order.source not in PLATFORMS or not order.external_id:
        return None
    prefix, _, given = order.external_id.partition(":")
    return given if prefix == order.source and given else None


def _inputs(event: OrderEvent) -> dict:
    return (event.payload or {}).get("inputs") or {}


def status_for(workflow: Workflow, steps: list[OrderEvent]) -> PlatformStatus | None:
    """What the steps of one decision (the chosen one, then the automatic ones) mean."""
    try:
        entered = workflow.status(steps[-1].to_status)
    except (KeyError, LookupError):
        return None
    if entered.kind is StatusKind.FINAL_FAILURE:
        return PlatformStatus.CANCELLED
    if entered.kind is StatusKind.FINAL_SUCCESS:
        return PlatformStatus.COMPLETED
    if any(_inputs(step).get("track_code") for step in steps):
        return PlatformStatus.SHIPPED
    if steps[0].from_status == workflow.initial.code:
        return PlatformStatus.PROCESSING
    return None


def status_changed(
    outbox: Outbox, order: Order, workflow: Workflow, steps: list[OrderEvent]
) -> None:
    given = platform_order_id(order)
    if given is None or not steps:
        return
    status = status_for(workflow, steps)
    if status is None or status not in SENDS.get(order.source, frozenset()):
        return
    event = steps[0]
    inputs = _inputs(event)
    outbox.add(
        key=f"order:{order.id}:event:{event.id}:connector",
        channel=CHANNEL,
        audience="shop",
        topic=str(status),
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "platform": order.source,
            "platform_order_id": given,
            "status": str(status),
            "carrier": order.carrier if status is PlatformStatus.SHIPPED else None,
            "track_code": order.track_code if status is PlatformStatus.SHIPPED else None,
            "note": inputs.get("comment")
            if inputs.get("comment") and event.visible_to_buyer
            else None,
        },
    )
