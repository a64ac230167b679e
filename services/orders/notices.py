"""Who is told what about an order: the outbox rows an order change writes.

Keys name the change (the order and its version, or the event), so writing them again for
the same change is skipped by the outbox.
"""

from __future__ import annotations

from services.messaging.notifications.outbox import Outbox
from services.messaging.webhooks import events as webhooks
from services.workflow.definition import ActorKind, StatusKind, Workflow
from storage.models import Order, OrderEvent, Shop


def new_order(outbox: Outbox, order: Order, shop: Shop, workflow: Workflow) -> None:
    """The shop learns of every new order in Telegram and by e-mail (003); the buyer too."""
    payload = {"number": order.number, "status": order.status}
    outbox.add(
        key=f"order:{order.id}:new:telegram",
        channel="telegram",
        audience="shop",
        topic="new_order",
        shop_id=shop.id,
        order_id=order.id,
        payload={**payload, "role": workflow.initial.responsible},
    )
    if shop.email:
        outbox.add(
            key=f"order:{order.id}:new:email",
            channel="email",
            audience="shop",
            topic="new_order",
            shop_id=shop.id,
            order_id=order.id,
            payload=payload,
        )
    to_buyer(outbox, order, "order_created", payload, key="created")
    webhooks.order_created(outbox, order, order.created_at.isoformat())


def cards_changed(outbox: Outbox, order: Order) -> None:
    """Every card of the order shown in a chat is redrawn (C3), whoever else is told."""
    outbox.add(
        key=f"order:{order.id}:v{order.version}:cards",
        channel="telegram",
        audience="cards",
        topic="refresh_cards",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={"version": order.version},
    )


def cards_refreshed(outbox: Outbox, shop_id: int, order_id: int, why: str) -> None:
    """The order's cards redrawn for news that changes no version (a carrier's checkpoint,
    issue 18): keyed by `why`, so each piece of news redraws them once."""
    outbox.add(
        key=f"order:{order_id}:{why}:cards",
        channel="telegram",
        audience="cards",
        topic="refresh_cards",
        shop_id=shop_id,
        order_id=order_id,
    )


def status_changed(
    outbox: Outbox,
    order: Order,
    workflow: Workflow,
    event: OrderEvent,
    first: OrderEvent | None = None,
) -> None:
    """The staff responsible for the new status get a ping; the buyer, if it is news to them.

    `first`: the decision's first step (the one a person took; `event` is its last step).
    When the buyer took it, the shop always hears of it, whoever the new status is for.
    A cancellation's reason and comment travel with the news (seed 003).
    """
    cards_changed(outbox, order)
    first = first or event
    status = workflow.status(order.status)
    payload: dict = {"event_id": event.id, "status": order.status, "number": order.number}
    inputs = (first.payload or {}).get("inputs") or {}
    if inputs.get("reason"):
        payload["reason"] = inputs["reason"]
    if first.comment and inputs.get("reason"):
        payload["comment"] = first.comment
    if (first.payload or {}).get("checkpoint"):  # the carrier's word that moved it (issue 18)
        checkpoint = first.payload["checkpoint"]
        payload["checkpoint"] = {k: checkpoint.get(k) for k in ("description", "location")}
    by_buyer = first.actor_kind == ActorKind.BUYER
    if by_buyer:
        # The buyer cancelled, confirmed receipt...: the group and the status's people, or
        # the owner; never nobody (a status without a responsible role is no excuse).
        outbox.add(
            key=f"order:{order.id}:event:{event.id}:buyer_acted",
            channel="telegram",
            audience="staff",
            topic="buyer_acted",
            shop_id=order.shop_id,
            order_id=order.id,
            payload={
                **payload,
                "action": first.action,
                "from_status": first.from_status,
                "role": status.responsible,
            },
        )
    elif status.responsible:
        outbox.add(
            key=f"order:{order.id}:event:{event.id}:staff",
            channel="telegram",
            audience="staff",
            topic="order_assigned",
            shop_id=order.shop_id,
            order_id=order.id,
            payload={**payload, "role": status.responsible},
        )
    if status.buyer_visible:
        to_buyer(outbox, order, "status_changed", payload, key=f"event:{event.id}")
    # The storefront hears of every order's change (H4): a signed webhook, sent by
    # services.messaging.webhooks.pump if the shop has a webhook URL then.
    cancelled = status.kind is StatusKind.FINAL_FAILURE
    webhooks.status_changed(outbox, order, event, cancelled=cancelled)
    if "request_review" in (event.payload or {}).get("effects", ()):
        from services.buyers.reviews import request_review  # F3: received, now rate it

        request_review(outbox, order)


def to_buyer(
    outbox: Outbox,
    order: Order,
    topic: str,
    payload: dict,
    key: str | None = None,
    *,
    one_channel: bool = False,
) -> None:
    """One row per channel the buyer can be reached on; with `one_channel`, Telegram when
    they use it, else e-mail (a reminder need not come twice)."""
    key = key or f"{topic}:v{order.version}"
    buyer = order.buyer
    channels = []
    if buyer.telegram_id or buyer.user_id:
        channels.append("telegram")
    if buyer.email and not (one_channel and channels):
        channels.append("email")
    for channel in channels:
        outbox.add(
            key=f"order:{order.id}:{key}:buyer:{channel}",
            channel=channel,
            audience="buyer",
            topic=topic,
            shop_id=order.shop_id,
            order_id=order.id,
            payload={"number": order.number, **payload},
        )


def buyer_reminder(outbox: Outbox, order: Order, timer_id: int, message: str) -> None:
    """A timer's reminder to the buyer (000: to pay): in Telegram, or by e-mail when they do
    not use the bot."""
    to_buyer(
        outbox, order, "reminder", {"message": message}, key=f"timer:{timer_id}", one_channel=True
    )


def shop_reminder(
    outbox: Outbox, order: Order, workflow: Workflow, timer_id: int, message: str
) -> None:
    """A timer's reminder to the shop (003: the goods wait at the pickup point): the staff
    working the status, and the staff group."""
    outbox.add(
        key=f"order:{order.id}:timer:{timer_id}:staff",
        channel="telegram",
        audience="staff",
        topic="shop_reminder",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "number": order.number,
            "status": order.status,
            "message": message,
            "role": workflow.status(order.status).responsible,
        },
    )


def shop_notice(
    outbox: Outbox, order: Order, workflow: Workflow, key: str, message: str, details: dict
) -> None:
    """An outside event for the shop to handle (a carrier returns the parcel): the staff
    working the status and the staff group, as a reminder is sent."""
    outbox.add(
        key=f"order:{order.id}:{key}:staff",
        channel="telegram",
        audience="staff",
        topic="shop_reminder",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            **details,
            "number": order.number,
            "status": order.status,
            "message": message,
            "role": workflow.status(order.status).responsible,
        },
    )


def sla_expired(
    outbox: Outbox, order: Order, workflow: Workflow, timer_id: int, status: str
) -> None:
    """Past the acceptable time: the admin and the staff responsible are alerted (001, 003)."""
    outbox.add(
        key=f"order:{order.id}:timer:{timer_id}:sla",
        channel="telegram",
        audience="staff",
        topic="sla_expired",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "number": order.number,
            "status": status,
            "role": workflow.status(status).responsible,
        },
    )
