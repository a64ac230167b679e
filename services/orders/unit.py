"""One transaction's working set: its session, its clock reading, its outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload, selectinload

from services import log_context
from services.messaging.notifications.outbox import Outbox
from services.orders.access import Who, who_is
from services.orders.actors import ActorRef, ActorType
from services.orders.events import record
from services.refusals import OrderRefused, Problem
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage.models import Order, OrderEvent, Shop, StaffMember

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


@dataclass
class Unit:
    """What one transaction works with: its session, its clock reading and its outbox."""

    session: AsyncSession
    now: datetime
    outbox: Outbox
    workflows: WorkflowStore
    _roles: dict[tuple[int, int], frozenset[str]] = field(default_factory=dict)
    # Shops read with their orders: held here, since the session's identity map keeps
    # objects only weakly and `session.get(Shop, ...)` should find them without a query.
    _shops: dict[int, Shop] = field(default_factory=dict)
    # Run once the transaction committed (metrics): a rolled-back attempt leaves no trace.
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    async def load(
        self,
        order_id: int,
        *,
        lock: bool = False,
        items: bool = True,
        asking: ActorRef | None = None,
    ) -> Order:
        """The order; with `asking`, that person's staff roles in its shop come along.

        Reading the roles in the same statement saves a round trip on the hottest path
        (every button tap); `who()` then decides from them.
        """
        if not 0 < order_id <= MAX_ID:
            # Ids come from buttons and links: anything out of range is simply not an order.
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        user_id = asking.user_id if asking is not None and asking.type is ActorType.USER else None
        # The shop comes along too (into the session's identity map): a change reads it for
        # the suspension check and the time limits, which then cost no round trip.
        query = (
            select(Order, Shop)
            if user_id is None
            else select(Order, Shop, StaffMember.role).outerjoin(
                StaffMember,
                and_(StaffMember.shop_id == Order.shop_id, StaffMember.user_id == user_id),
            )
        )
        query = (
            query.join(Shop, Shop.id == Order.shop_id)
            .where(Order.id == order_id)
            .options(selectinload(Order.items) if items else raiseload(Order.items))
            .execution_options(populate_existing=True)
        )
        if lock:
            # PostgreSQL: concurrent changes of one order queue up here. SQLite has one
            # writer at a time already (BEGIN IMMEDIATE) and ignores FOR UPDATE.
            query = query.with_for_update(of=Order)
        rows = (await self.session.execute(query)).all()
        if not rows:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        order = rows[0][0]
        self._shops[order.shop_id] = rows[0][1]
        log_context.order_loaded(order.shop_id, order.number)
        if user_id is not None:
            self._roles[(order.shop_id, user_id)] = frozenset(r[2] for r in rows if r[2])
        return order

    async def who(self, order: Order, ref: ActorRef) -> Who:
        """Who is asking about this order (see services.orders.access.who_is)."""
        known = self._roles.get((order.shop_id, ref.user_id))
        return await who_is(self.session, order, ref, roles=known)

    async def workflow(self, order: Order) -> Workflow:
        return await self.workflows.get(self.session, order.workflow_id)

    async def next_number(self, shop_id: int) -> int:
        """Public order numbers count per shop; the row update serialises concurrent ones."""
        return await self.session.scalar(
            update(Shop)
            .where(Shop.id == shop_id)
            .values(last_order_number=Shop.last_order_number + 1)
            .returning(Shop.last_order_number)
        )

    def add_event(self, order: Order, who: Who | None, **fields: Any) -> OrderEvent:
        event = record(order, who, self.now, **fields)
        self.session.add(event)
        return event
