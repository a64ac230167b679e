"""The storefront's list of its shop's orders (H4): filters and cursor pages, newest first.

Pages are keyed by the order's public number, which only grows in a shop: a page is "the
next `limit` orders below number N" through the unique (shop_id, number) index, so a page
costs the same on the first page and the thousandth, and an order created meanwhile never
shifts the pages being read. The filters each have an index of their own (status, updated
since, created between, the storefront's id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload

from services.storefront.queries import MAX_NUMBER
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Order, Shop

MAX_LIMIT = 100
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class OrderFilter:
    statuses: tuple[str, ...] = ()  # any of these status codes
    updated_since: datetime | None = None  # changed at or after
    created_from: datetime | None = None  # created at or after
    created_to: datetime | None = None  # created before
    external_id: str | None = None  # the storefront's (or platform's) own id


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]  # without their goods or buyer: the list shows neither
    workflows: dict[int, Workflow]  # by definition id, for status titles
    language: str  # the shop's: titles are given in it
    next_below: int | None  # the next page's orders have numbers below this; None: last page


class StorefrontListing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], workflows: WorkflowStore):
        self._sessions = sessions
        self._workflows = workflows

    async def page(
        self,
        shop_id: int,
        where: OrderFilter,
        *,
        below: int | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> OrderPage:
        limit = max(1, min(limit, MAX_LIMIT))
        query = (
            select(Order)
            .where(Order.shop_id == shop_id)
            .options(raiseload(Order.items), raiseload(Order.buyer))
            .order_by(Order.number.desc())
            .limit(limit + 1)
        )
        if below is not None:
            query = query.where(Order.number < min(below, MAX_NUMBER + 1))
        if where.statuses:
            query = query.where(Order.status.in_(where.statuses))
        if where.updated_since is not None:
            query = query.where(Order.updated_at >= where.updated_since)
        if where.created_from is not None:
            query = query.where(Order.created_at >= where.created_from)
        if where.created_to is not None:
            query = query.where(Order.created_at < where.created_to)
        if where.external_id is not None:
            query = query.where(Order.external_id == where.external_id)
        async with reading(self._sessions) as session:
            language = await session.scalar(select(Shop.language).where(Shop.id == shop_id))
            orders = list(await session.scalars(query))
            more = len(orders) > limit
            orders = orders[:limit]
            workflows = {
                definition: await self._workflows.get(session, definition)
                for definition in {order.workflow_id for order in orders}
            }
        return OrderPage(orders, workflows, language or "ru", orders[-1].number if more else None)
