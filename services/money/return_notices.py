"""What a return's steps leave behind (F1): the audit event on the order, and both sides told."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from services.messaging.notifications.outbox import Outbox
from services.orders import notices
from services.orders.access import Who
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from storage.models import Order, OrderItem, ReturnRequest

if TYPE_CHECKING:
    from services.money.ledger.postings import ReturnMoney


def record_step(
    unit: Unit,
    order: Order,
    who: Who,
    request: ReturnRequest,
    action: OrderEvents,
    *,
    comment: str | None = None,
    money: ReturnMoney | None = None,
) -> None:
    """The step in the order's audit log; the buyer sees their return's history."""
    unit.add_event(
        order,
        who,
        action=action,
        payload={
            "return_id": request.id,
            "lines": [
                {"item_id": line.order_item_id, "quantity": line.quantity} for line in request.lines
            ],
            "amount": request.amount,
            **_money(money),
        },
        comment=comment,
    )


def notify_step(
    outbox: Outbox,
    order: Order,
    request: ReturnRequest,
    items: Mapping[int, OrderItem],
    step: str,
    *,
    money: ReturnMoney | None = None,
) -> None:
    """Both sides hear of every step: the shop's managers (and group), and the buyer."""
    payload = {
        "return_id": request.id,
        "step": step,
        "number": order.number,
        "lines": [
            [items[line.order_item_id].name if line.order_item_id in items else "?", line.quantity]
            for line in request.lines
        ],
        "amount": request.amount,
        "reason": request.reason,
        "reject_reason": request.reject_reason,
        **_money(money),
    }
    outbox.add(
        key=f"return:{request.id}:{step}:shop",
        channel="telegram",
        audience="staff",
        topic="return_to_shop",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={**payload, "role": "manager"},
    )
    notices.to_buyer(outbox, order, "return_to_buyer", payload, key=f"return:{request.id}:{step}")


def _money(money: ReturnMoney | None) -> dict[str, int]:
    """A refund's split: paid back (`refunded`), and taken off what the buyer owed."""
    if money is None:
        return {}
    return {"refunded": money.refunded, "off_due": money.off_due}
