"""What the storefront may read about its shop's orders (G1): status, the history the buyer
sees, the parcel. Another shop's order does not exist for it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Order, OrderEvent, Shop

MAX_NUMBER = 2**31 - 1


@dataclass(frozen=True)
class OrderState:
    order: Order
    workflow: Workflow
    language: str  # the shop's: titles are given in it
    history: list[OrderEvent]  # only what the buyer may see (A9)


class StorefrontQueries:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], workflows: WorkflowStore):
        self._sessions = sessions
        self._workflows = workflows

    async def order(self, shop_id: int, number: int) -> OrderState | None:
        if not 0 < number <= MAX_NUMBER:
            return None
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(Order, Shop.language)
                    .join(Shop, Shop.id == Order.shop_id)
                    .where(Order.shop_id == shop_id, Order.number == number)
                )
            ).first()
            if row is None:
                return None
            order, language = row
            history = list(
                await session.scalars(
                    select(OrderEvent)
                    .where(OrderEvent.order_id == order.id, OrderEvent.visible_to_buyer.is_(True))
                    .order_by(OrderEvent.id)
                )
            )
            workflow = await self._workflows.get(session, order.workflow_id)
            return OrderState(order, workflow, language, history)

    async def by_external_id(self, shop_id: int, external_id: str) -> list[Order]:
        """The orders one storefront request became (one, or two after the split)."""
        async with reading(self._sessions) as session:
            return list(
                await session.scalars(
                    select(Order)
                    .where(Order.shop_id == shop_id, Order.external_id == external_id)
                    .order_by(Order.number)
                )
            )

    async def workflow_in(self, session: AsyncSession, definition_id: int) -> Workflow:
        return await self._workflows.get(session, definition_id)

    async def workflow(self, definition_id: int) -> Workflow:
        # Cached after the first read; the session connects only if it must read.
        async with self._sessions() as session:
            return await self._workflows.get(session, definition_id)
