"""Audit events (A9): who did what to an order, when, and through which channel.

An event is either a workflow transition (its action is the workflow's action code) or one
of `OrderEvents`: everything else that happens to an order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm.attributes import manager_of_class

from services.orders.access import Who
from services.orders.actors import ActorType
from services.workflow.definition import ActorKind
from storage.models import Order, OrderEvent


class OrderEvents(StrEnum):
    """What an audit event that is not a workflow transition records (saleor's OrderEvents)."""

    CREATED = "create"  # the order was placed (storefront, staff, split)
    COMMENT = "comment"  # a staff comment the buyer never sees (003)
    BUYER_LINKED = "buyer_linked"  # the buyer opened the order's link in Telegram
    REMINDER = "reminder"  # a timer reminded the buyer or the shop
    SLA_EXPIRED = "sla_expired"  # the status's acceptable time limit passed (B2)
    SPLIT_BY_AVAILABILITY = "split_by_availability"  # in stock / made to order apart (000)
    SPLIT = "split"  # the shop moved goods into a new order (A7)
    SPLIT_FROM = "split_from"  # this order was made by a split, from another one
    ITEMS_EDITED = "edit_items"  # goods or quantities changed during agreement (A6)
    DELIVERY_CHANGED = "change_delivery"  # delivery method, address or cost changed
    PAYMENT_CHANGED = "change_payment"  # payment method changed
    DISCOUNT_SET = "set_discount"  # a discount on the order or its lines
    CONTACT_CHANGED = "change_contact"  # the storefront relayed the buyer's new contact (H4)
    COMMENT_CHANGED = "change_comment"  # the storefront relayed the buyer's new comment (H4)
    RETURN_REQUESTED = "return_requested"  # the buyer asked to send goods back (F1)
    RETURN_APPROVED = "return_approved"
    RETURN_REJECTED = "return_rejected"
    RETURN_GOODS_RECEIVED = "return_goods_received"
    RETURN_REFUNDED = "return_refunded"
    RETURN_OVERDUE = "return_overdue"  # the shop did not answer a return in time
    REVIEW_LEFT = "review_left"  # the buyer's stars (F3)
    REVIEW_TEXT = "review_text"  # the buyer's words after the stars
    REVIEW_ANSWERED = "review_answered"  # the shop's one answer to the review
    PERSONAL_DATA_ERASED = "personal_data_erased"  # the buyer forgotten, or retention ran out
    PAYMENT_RECORDED = "payment_recorded"  # money from the buyer, with its amount
    REFUND_RECORDED = "refund_recorded"  # money the shop owed back, given back
    WORKFLOW_MOVED = "workflow_moved"  # the shop moved its open orders to a new version
    CARRIER_REPORTED = "carrier_reported"  # the carrier's news the shop must handle (issue 18)
    DELIVERY_DATE_SET = "set_delivery_date"  # the day agreed with the buyer to send the goods
    COURIER_SET = "set_courier"  # the courier's visit window and phone, for the buyer
    PAYMENT_NOT_APPLIED = "payment_not_applied"  # a provider's payment the order did not fit


def record(
    order: Order,
    who: Who | None,
    now: datetime,
    *,
    action: str | OrderEvents,
    from_status: str | None = None,
    to_status: str | None = None,
    payload: dict | None = None,
    comment: str | None = None,
    capacity: ActorKind | None = None,
    role: str | None = None,
    visible: bool = True,
    channel: str | None = None,
) -> OrderEvent:
    """An event for the order. `who` None, or a system capacity, records the system."""
    if (
        who is None
        or who.actor.is_system
        or who.ref.type is ActorType.SYSTEM  # the storefront API acting for the shop
        or capacity is ActorKind.SYSTEM
    ):
        kind, user_id, role = ActorKind.SYSTEM, None, None
    elif capacity is ActorKind.BUYER or (not who.is_staff and who.actor.is_buyer):
        kind, user_id, role = ActorKind.BUYER, who.ref.user_id, None
    else:
        kind, user_id = ActorKind.STAFF, who.ref.user_id
        role = role or who.role_for(who.actor.roles)
    event = _new_event()
    # Every column given, straight into the new object's dict, as the ORM fills an object it
    # loads: the declarative constructor would set each through the attribute machinery
    # (history nobody reads for a row not yet written). A new object is inserted from its
    # dict, by the session's flush or by services.orders.status_rows (issue 15).
    event.__dict__.update(
        order_id=order.id,
        created_at=now,
        actor_kind=str(kind),
        actor_user_id=user_id,
        actor_role=role,
        channel=str(channel or (who.ref.channel if who else "system")),
        action=str(action),
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
        comment=comment,
        visible_to_buyer=visible,
    )
    return event


_new_event = manager_of_class(OrderEvent).new_instance


# What statements built once write of an event (services.orders.status_rows, unit): every
# column but its id, which the sequence gives or the change took ahead.
EVENT_COLUMNS = tuple(c.name for c in OrderEvent.__table__.columns if c.name != "id")


def event_row(event: OrderEvent) -> dict[str, Any]:
    """An event made by `record`, as the row those statements write."""
    return {name: getattr(event, name) for name in EVENT_COLUMNS}
