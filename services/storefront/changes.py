"""What the storefront changes on its shop's orders (H4): cancel, ship, edit.

Each goes through OrderService with the storefront's actor (the API channel), which may do
what the shop's admin may (services.orders.access), and nothing the workflow forbids:

- cancelling takes the workflow's cancellation action (the one that asks for a reason) with
  the reason and comment given; the engine says why when it cannot (closed, done already,
  not from this status, a reason not fit here);
- shipping takes the action that asks for a carrier and a track code, as staff do in
  Telegram; a workflow without one refuses it as not available;
- editing is the edits of Telegram's "✏️ Edit", in one transaction (all or none), each
  under the workflow's rule for it: delivery (method, address, cost) and payment under
  their own, the buyer's contact and comment under the delivery rule (the order's details,
  until it ships).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.orders import editing
from services.orders.service import OrderService
from services.orders.unit import Unit
from services.refusals import OrderRefused, Problem
from services.storefront.orders import API_ACTOR
from services.storefront.queries import OrderState, StorefrontQueries
from services.workflow.definition import Input, Workflow
from storage.models import Order


@dataclass(frozen=True)
class OrderPatch:
    """The fields a PATCH carries; None: leave it as it is."""

    contact: Mapping[str, str | None] | None = None  # name, phone, email (None clears)
    delivery_method: str | None = None
    delivery_address: str | None = None
    delivery_cost: int | None = None  # minor units; None: kept, or the new method's price
    payment_method: str | None = None
    comment: str | None = None

    @property
    def touches_delivery(self) -> bool:
        return (
            self.delivery_method is not None
            or self.delivery_address is not None
            or self.delivery_cost is not None
        )


class StorefrontChanges:
    def __init__(self, orders: OrderService, queries: StorefrontQueries):
        self._orders = orders
        self._queries = queries

    async def cancel(self, shop_id: int, number: int, reason: str, comment: str) -> OrderState:
        order_id = await self._find(shop_id, number)
        action = await self._action_taking(order_id, Input.REASON)
        inputs = {"reason": reason, "comment": comment or None}
        await self._orders.apply(order_id, API_ACTOR, action, inputs)
        return await self._state(shop_id, number)

    async def ship(
        self, shop_id: int, number: int, carrier: str, track_code: str, comment: str
    ) -> OrderState:
        order_id = await self._find(shop_id, number)
        action = await self._action_taking(order_id, Input.TRACK_CODE)
        inputs = {"carrier": carrier, "track_code": track_code, "comment": comment or None}
        await self._orders.apply(order_id, API_ACTOR, action, inputs)
        return await self._state(shop_id, number)

    async def update(self, shop_id: int, number: int, patch: OrderPatch) -> OrderState:
        order_id = await self._find(shop_id, number)
        edits: list[tuple[str, Any, tuple[Any, ...]]] = []
        if patch.contact:
            edits.append(("delivery", editing.change_contact, (patch.contact,)))
        if patch.touches_delivery:
            delivery = (patch.delivery_method, patch.delivery_address, patch.delivery_cost)
            edits.append(("delivery", _change_delivery, delivery))
        if patch.payment_method is not None:
            edits.append(("payment", editing.change_payment, (patch.payment_method,)))
        if patch.comment is not None:
            edits.append(("delivery", editing.change_comment, (patch.comment,)))
        if edits:
            await self._orders.edit_many(order_id, API_ACTOR, edits)
        return await self._state(shop_id, number)

    async def _find(self, shop_id: int, number: int) -> int:
        return await self._orders.find(shop_id, number, API_ACTOR)

    async def _action_taking(self, order_id: int, needed: Input) -> str:
        """The action offered now that asks for `needed`; else any action of the workflow
        that does, so the engine refuses it with the exact reason (closed, done already)."""
        for option in await self._orders.actions(order_id, API_ACTOR):
            if needed in option.inputs:
                return option.code
        workflow: Workflow = await self._orders.workflow_of(order_id)
        for transition in workflow.transitions:
            if needed in transition.inputs and not transition.automatic:
                return transition.code
        what = "cancelled" if needed is Input.REASON else "shipped with a track code"
        raise OrderRefused(
            Problem.NOT_AVAILABLE, f"this shop's orders cannot be {what} through the API"
        )

    async def _state(self, shop_id: int, number: int) -> OrderState:
        state = await self._queries.order(shop_id, number)
        if state is None:  # deleted with its shop in between
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return state


async def _change_delivery(
    unit: Unit,
    order: Order,
    workflow: Workflow,
    who,
    method: str | None,
    address: str | None,
    cost: int | None,
) -> Order:
    """Delivery as the storefront changes it: a new address alone keeps the method and the
    price the order has; a new method without a price takes the shop's price for it."""
    method = method or order.delivery_method
    if cost is None and method == order.delivery_method:
        cost = order.delivery_cost
    return await editing.change_delivery(unit, order, workflow, who, method, address, cost)
