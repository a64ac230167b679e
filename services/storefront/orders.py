"""Orders from the storefront (G1): the order service behind the Idempotency-Key protocol.

As Stripe has it: the key is reserved first (services/storefront/idempotency.py); a retry
with the same key and body gets the first answer again, another body is refused, a key
whose first request is still running says so. The answer kept for a key is the one the
API gave, so the HTTP edge hands this service a function that turns the outcome (orders
created, or the order service's refusal) into its answer, and this service keeps it.

A request whose process died holding the key is taken over after the lease: the orders it
may have committed carry the storefront's external id, unique per shop, so the retry
answers with those orders instead of making them twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.orders.actors import ActorRef, Channel
from services.orders.drafts import OrderDraft
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem
from services.storefront.idempotency import (
    IdempotencyStore,
    InProgress,
    Mismatch,
    Proceed,
    Replay,
)
from services.storefront.queries import StorefrontQueries
from services.workflow.definition import Workflow
from storage.models import Order

API_ACTOR = ActorRef.system(Channel.API)


@dataclass(frozen=True)
class Created:
    """The orders one storefront request became (two when it mixed availabilities)."""

    orders: list[Order]
    workflows: dict[int, Workflow]  # by workflow definition id, for status titles


@dataclass(frozen=True)
class Answered:
    """What the API answered this time (and keeps for the key, unless it is a 5xx)."""

    status: int
    body: dict[str, Any]


Answer = Callable[[Created | OrderRefused], Answered]


class StorefrontOrders:
    def __init__(self, orders: OrderService, keys: IdempotencyStore, queries: StorefrontQueries):
        self._orders = orders
        self._keys = keys
        self._queries = queries

    async def create(
        self,
        shop_id: int,
        draft: OrderDraft,
        *,
        key: str | None,
        request_print: str,
        answer: Answer,
    ) -> Answered | Replay | InProgress | Mismatch:
        """Create the orders once per key; `answer` renders the outcome for the API."""
        if key is None:
            return answer(await self._create(shop_id, draft, taken_over=False))
        outcome = await self._keys.begin(shop_id, key, request_print)
        if not isinstance(outcome, Proceed):
            return outcome
        # An exception here leaves the key reserved until its lease ends: the orders may
        # have been committed before it, and a retry after the lease finds them.
        answered = answer(await self._create(shop_id, draft, taken_over=outcome.taken_over))
        if answered.status >= 500:
            await self._keys.release(shop_id, key)
        else:
            await self._keys.finish(shop_id, key, answered.status, answered.body)
        return answered

    async def _create(
        self, shop_id: int, draft: OrderDraft, *, taken_over: bool
    ) -> Created | OrderRefused:
        try:
            orders = await self._orders.create_orders(shop_id, draft, API_ACTOR, source="api")
        except OrderRefused as refusal:
            if refusal.code is not Problem.DUPLICATE or not taken_over:
                return refusal
            # The request that held this key died after its orders were committed: they
            # are the answer to this retry.
            orders = await self._queries.by_external_id(shop_id, draft.external_id)
        workflows = {
            order.workflow_id: await self._queries.workflow(order.workflow_id) for order in orders
        }
        return Created(orders, workflows)
