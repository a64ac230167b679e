"""The shop's view of a customer: its orders grouped by a proven identity, for staff only.

Each order has its own buyer row (services.orders.service), so "the same customer" is never
read from a phone or e-mail typed into an order. Orders belong together when the same
person proved them theirs: one Telegram account (the order's link opened, or their phone as
Telegram vouched for it), or one e-mail address a link was used from. This is the shop's
history of its customer; the buyer side never gets in through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.access import who_is
from services.orders.actors import ActorRef
from services.orders.unit import MAX_ID
from services.refusals import OrderRefused, Problem
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Buyer, Order, Shop

MAX_LISTED = 30


@dataclass(frozen=True)
class CustomerOrder:
    id: int
    number: int
    status: str
    status_title: Mapping[str, str]  # by language, from the order's own workflow version
    total: int
    currency: str
    created_at: datetime

    def title(self, language: str) -> str:
        return self.status_title.get(language) or self.status_title.get("ru") or self.status


@dataclass(frozen=True)
class Customer:
    """The buyer of one order as the shop may group them, and their orders in the shop."""

    order_number: int
    name: str
    by_telegram: bool  # a Telegram account proved it (link or shared phone)
    verified_email: str | None  # an e-mail address a link was used from
    orders: list[CustomerOrder]  # newest first, this order included
    timezone: str

    @property
    def verified(self) -> bool:
        return self.by_telegram or self.verified_email is not None


class CustomerService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], workflows: WorkflowStore | None = None
    ):
        self._sessions = sessions
        self._workflows = workflows or WorkflowStore()

    async def of_order(self, order_id: int, actor: ActorRef) -> Customer:
        """The customer behind this order; the shop's staff only (anyone else: not found)."""
        if not 0 < order_id <= MAX_ID:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        async with reading(self._sessions) as session:
            order = await session.get(Order, order_id)
            if order is None:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            who = await who_is(session, order, actor)
            if not who.is_staff:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            buyer = order.buyer
            proofs = []
            if buyer.user_id is not None:
                proofs.append(Buyer.user_id == buyer.user_id)
            email = (buyer.email or "").strip().lower() if buyer.email_verified_at else ""
            if email:
                proofs.append(
                    and_(Buyer.email_verified_at.is_not(None), func.lower(Buyer.email) == email)
                )
            same = or_(Order.id == order.id, *proofs) if proofs else Order.id == order.id
            rows = await session.execute(
                select(
                    Order.id,
                    Order.number,
                    Order.status,
                    Order.workflow_id,
                    Order.total,
                    Order.currency,
                    Order.created_at,
                )
                .join(Buyer, Buyer.id == Order.buyer_id)
                .where(Order.shop_id == order.shop_id, same)
                .order_by(Order.created_at.desc(), Order.id.desc())
                .limit(MAX_LISTED)
            )
            timezone = await session.scalar(select(Shop.timezone).where(Shop.id == order.shop_id))
            listed = []
            for row in rows:
                workflow = await self._workflows.get(session, row.workflow_id)
                try:
                    titles = workflow.status(row.status).title
                except KeyError:
                    titles = {}
                listed.append(
                    CustomerOrder(
                        row.id,
                        row.number,
                        row.status,
                        titles,
                        row.total,
                        row.currency,
                        row.created_at,
                    )
                )
            return Customer(
                order_number=order.number,
                name=buyer.name,
                by_telegram=buyer.user_id is not None,
                verified_email=buyer.email if email else None,
                orders=listed,
                timezone=timezone or "UTC",
            )
