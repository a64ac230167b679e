"""Orders from the storefront (G1): the order service behind the Idempotency-Key protocol.

The protocol is services/storefront/keyed.py's, shared by every storefront request that
changes something. The answer kept for a key is the one the API gave, so the HTTP edge
hands this service a function that turns the outcome (orders created, or the order
service's refusal) into its answer, and the protocol keeps it. Orders created are answered
inside their own transaction and the answer kept there; a new key is reserved in that
transaction too (issue 15): the request is one transaction.

A request whose process died holding the key is taken over after the lease: the orders it
may have committed carry the storefront's external id, unique per shop, so the retry
answers with those orders instead of making them twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.actors import ActorRef, Channel
from services.orders.drafts import OrderDraft
from services.orders.service import OrderService
from services.refusals import OrderRefused, Problem
from services.storefront.idempotency import IdempotencyStore
from services.storefront.keyed import Answered, Keyed, KeyedRequests
from services.storefront.queries import StorefrontQueries
from services.workflow.definition import Workflow
from storage.models import Order

API_ACTOR = ActorRef.system(Channel.API)


@dataclass(frozen=True)
class Created:
    """The orders one storefront request became (two when it mixed availabilities)."""

    orders: list[Order]
    workflows: dict[int, Workflow]  # by workflow definition id, for status titles


Answer = Callable[[Created | OrderRefused], Answered]


class StorefrontOrders:
    def __init__(self, orders: OrderService, keys: IdempotencyStore, queries: StorefrontQueries):
        self._orders = orders
        self._keys = keys
        self._keyed = KeyedRequests(keys)
        self._queries = queries

    async def create(
        self,
        shop_id: int,
        draft: OrderDraft,
        *,
        key: str | None,
        request_print: str,
        answer: Answer,
    ) -> Keyed:
        """Create the orders once per key; `answer` renders the outcome for the API.

        A new key, the commonest case, is reserved in the orders' own transaction: the
        request is one transaction (issue 15). A key used before, or a request refused,
        goes through the general protocol (services/storefront/keyed.py), which tells a
        retry what it finds and keeps a refusal's answer.
        """
        if key is not None:
            answered = await self._create_reserving(shop_id, draft, key, request_print, answer)
            if answered is not None:
                return answered

        async def work(taken_over: bool) -> Answered:
            return await self._create(shop_id, draft, key, answer, taken_over=taken_over)

        return await self._keyed.run(shop_id, key, request_print, work)

    async def _create_reserving(
        self, shop_id: int, draft: OrderDraft, key: str, request_print: str, answer: Answer
    ) -> Answered | None:
        """The orders with their key reserved first in their transaction, and their answer
        kept last in it; None when the key was reserved before or the request is refused
        (that transaction rolled back: nothing of it is left)."""

        async def reserve(session: AsyncSession) -> None:
            # PostgreSQL: a concurrent request with this key waits here until ours ends,
            # then finds the key used and is answered by the general protocol.
            if not await self._keys.reserve(session, shop_id, key, request_print):
                raise _GiveWay

        try:
            return await self._create(shop_id, draft, key, answer, taken_over=False, before=reserve)
        except _GiveWay:
            return None

    async def _create(
        self,
        shop_id: int,
        draft: OrderDraft,
        key: str | None,
        answer: Answer,
        *,
        taken_over: bool,
        before: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> Answered:
        answered: list[Answered] = []

        async def keep(session: AsyncSession, orders: list[Order]) -> None:
            workflows = {
                order.workflow_id: await self._queries.workflow_in(session, order.workflow_id)
                for order in orders
            }
            this = answer(Created(orders, workflows))
            if key is not None and this.status < 500:
                await self._keys.keep(session, shop_id, key, this.status, this.body)
                this = replace(this, kept=True)
            answered[:] = [this]  # a lost race runs the transaction again: the last one's

        try:
            await self._orders.create_orders(
                shop_id, draft, API_ACTOR, source="api", before=before, with_orders=keep
            )
            return answered[0]
        except OrderRefused as refusal:
            if before is not None:
                raise _GiveWay from refusal  # refused: its answer is kept by the protocol
            if refusal.code is not Problem.DUPLICATE or not taken_over:
                return answer(refusal)
            # The request that held this key died after its orders were committed: they
            # are the answer to this retry.
            orders = await self._queries.by_external_id(shop_id, draft.external_id)
        workflows = {
            order.workflow_id: await self._queries.workflow(order.workflow_id) for order in orders
        }
        return answer(Created(orders, workflows))


class _GiveWay(Exception):
    """The one-transaction path gives way to the general protocol: the key was reserved
    before, or the request was refused (the protocol keeps the refusal's answer)."""
