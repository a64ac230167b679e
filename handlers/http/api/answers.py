"""What the API answers about orders: JSON-ready dicts, money as decimal strings and minor units."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from services.orders.money import exponent
from services.storefront.queries import OrderState
from services.workflow.definition import Workflow

if TYPE_CHECKING:  # the rows the storefront services return; read here, never queried
    from storage.models import Order


def decimal_string(amount: int, currency: str) -> str:
    places = exponent(currency)
    return f"{Decimal(amount).scaleb(-places):.{places}f}"


def status_of(workflow: Workflow, code: str | None, language: str) -> dict[str, str] | None:
    if code is None:
        return None
    try:
        titles = workflow.status(code).title
    except (KeyError, LookupError):
        return {"code": code, "title": code}
    return {"code": code, "title": titles.get(language) or titles.get("ru") or code}


def buyer_link(order: Order, bot_username: str | None) -> str | None:
    """The deep link that binds the buyer's Telegram account to the order (C5)."""
    if not bot_username:
        return None
    return f"https://t.me/{quote(bot_username)}?start={quote(order.buyer_token)}"


def created_order(
    order: Order, workflow: Workflow, language: str, bot_username: str | None
) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": status_of(workflow, order.status, language),
        "availability": order.availability,
        "total": decimal_string(order.total, order.currency),
        "total_minor": order.total,
        "currency": order.currency,
        "buyer_link": buyer_link(order, bot_username),
    }


def order_state(state: OrderState) -> dict[str, Any]:
    order, workflow, language = state.order, state.workflow, state.language
    return {
        "number": order.number,
        "external_id": order.external_id,
        "status": status_of(workflow, order.status, language),
        "availability": order.availability,
        "total": decimal_string(order.total, order.currency),
        "total_minor": order.total,
        "currency": order.currency,
        "carrier": order.carrier,
        "track_code": order.track_code,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "history": [
            {
                "at": event.created_at.isoformat(),
                "action": event.action,
                "from_status": status_of(workflow, event.from_status, language),
                "to_status": status_of(workflow, event.to_status, language),
            }
            for event in state.history
        ],
    }


def order_summary(order: Order, workflow: Workflow, language: str) -> dict[str, Any]:
    """An order in a list: what it is and where it stands, no goods or history."""
    return {
        "number": order.number,
        "external_id": order.external_id,
        "source": order.source,
        "status": status_of(workflow, order.status, language),
        "availability": order.availability,
        "total": decimal_string(order.total, order.currency),
        "total_minor": order.total,
        "currency": order.currency,
        "carrier": order.carrier,
        "track_code": order.track_code,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }
