"""Audit events (A9): who did what to an order, when, and through which channel."""

from __future__ import annotations

from datetime import datetime

from services.orders.access import Who
from services.workflow.definition import ActorKind
from storage.models import Order, OrderEvent


def record(
    order: Order,
    who: Who | None,
    now: datetime,
    *,
    action: str,
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
    if who is None or who.actor.is_system or capacity is ActorKind.SYSTEM:
        kind, user_id, role = ActorKind.SYSTEM, None, None
    elif capacity is ActorKind.BUYER or (not who.is_staff and who.actor.is_buyer):
        kind, user_id, role = ActorKind.BUYER, who.ref.user_id, None
    else:
        kind, user_id = ActorKind.STAFF, who.ref.user_id
        role = role or who.role_for(who.actor.roles)
    return OrderEvent(
        order_id=order.id,
        created_at=now,
        actor_kind=str(kind),
        actor_user_id=user_id,
        actor_role=role,
        channel=str(channel or (who.ref.channel if who else "system")),
        action=action,
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
        comment=comment,
        visible_to_buyer=visible,
    )
