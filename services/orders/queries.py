"""The order list (C4) and each person's queue (C2), read for the shop's staff.

Orders keep the workflow version they started with (A1), so "is this status final?" and
"who is responsible for it?" are answered per version: the filters below are built from
every version of the shop's workflow, grouped where versions agree.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.money.ledger.income import commission
from services.money.ledger.terms import Terms
from services.orders.drafts import normalize_phone
from services.refusals import OrderRefused, Reason, Refused, invalid
from services.shops.staff import require_staff
from services.time import sla
from services.time.clock import Clock
from services.vocabulary import SUPERVISOR_ROLES
from services.workflow.definition import Status, Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Buyer, LedgerEntry, Order, Shop, WorkflowDefinition

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
_ORDER_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")  # nine digits stay inside a 32-bit integer


@dataclass(frozen=True)
class OrderRow:
    """One line of the order list."""

    id: int
    number: int
    created_at: datetime
    buyer_name: str
    buyer_phone: str | None
    total: int  # minor units
    currency: str
    status: str
    status_title: Mapping[str, str]  # by language, from the order's own workflow version
    problem: bool
    # Working time left before the status's acceptable limit (B2); zero once it has passed.
    time_left: timedelta | None = None
    # The shop's income (004's list): the goods minus the commission or distributor discount.
    income: int | None = None


@dataclass(frozen=True)
class OrderPage:
    rows: list[OrderRow]
    total: int  # orders matching the filters, on all pages
    page: int  # from 0
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return (self.page + 1) * self.page_size < self.total


class OrderQueries:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def list_orders(
        self,
        shop_id: int,
        user_id: int,
        *,
        status: str | None = None,
        problem: bool | None = None,
        mine: bool = False,
        search: str | None = None,
        page: int = 0,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> OrderPage:
        """The shop's orders, newest first, for its staff.

        Orders in a final status are left out unless `status` asks for one or `search` looks
        for a particular order. `mine`: the orders in statuses the person's roles are
        responsible for; an owner's or admin's "mine" is every order still under way, since
        whatever nobody else picks up is theirs. `search`: an order number ("#12"), a phone
        number in any format the shop's country reads, or plain digits, which may be either.
        """
        search = (search or "").strip() or None
        if page < 0:
            raise invalid("page", "pages are counted from 0")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise invalid("page_size", f"a page holds 1 to {MAX_PAGE_SIZE} orders")
        async with reading(self._sessions) as session:
            roles = await require_staff(session, shop_id, user_id)
            versions = await self._versions(session, shop_id)
            where = [Order.shop_id == shop_id]
            if status is not None:
                where.append(Order.status == status)
            if problem is not None:
                where.append(Order.problem == problem)
            if search is not None:
                where.append(await self._search(session, shop_id, search))
            if mine:
                where.append(_mine(versions, roles))
            elif status is None and search is None:
                where.append(_in_statuses(versions, lambda s: not s.is_final))

            total = await session.scalar(
                select(func.count())
                .select_from(Order)
                .join(Buyer, Buyer.id == Order.buyer_id)
                .where(*where)
            )
            result = await session.execute(
                select(
                    Order.id,
                    Order.number,
                    Order.created_at,
                    Buyer.name,
                    Buyer.phone,
                    Order.total,
                    Order.currency,
                    Order.status,
                    Order.problem,
                    Order.workflow_id,
                    Order.sla_deadline_at,
                    Order.items_total,
                    Order.discount,
                    _reserved_income(),
                )
                .join(Buyer, Buyer.id == Order.buyer_id)
                .where(*where)
                .order_by(Order.number.desc())
                .offset(page * page_size)
                .limit(page_size)
            )
            result = list(result)
            hours = None
            shop = await session.get(Shop, shop_id)
            if any(row.sla_deadline_at is not None for row in result):
                hours = sla.calendar(shop)
            percent = Terms.of(shop.settings).percent
            now = self._clock.now()
            rows = [
                OrderRow(
                    id=row.id,
                    number=row.number,
                    created_at=row.created_at,
                    buyer_name=row.name,
                    buyer_phone=row.phone,
                    total=row.total,
                    currency=row.currency,
                    status=row.status,
                    status_title=_title(versions[row.workflow_id], row.status),
                    problem=row.problem,
                    time_left=(
                        hours.between(now, row.sla_deadline_at)
                        if hours is not None and row.sla_deadline_at is not None
                        else None
                    ),
                    income=row.reserved_income
                    if row.reserved_income is not None
                    else (row.items_total - row.discount)
                    - commission(row.items_total - row.discount, percent),
                )
                for row in result
            ]
            return OrderPage(rows=rows, total=total or 0, page=page, page_size=page_size)

    async def queue(
        self, shop_id: int, user_id: int, page: int = 0, page_size: int = DEFAULT_PAGE_SIZE
    ) -> OrderPage:
        """'My queue' (C2): the orders waiting for this person's roles."""
        return await self.list_orders(shop_id, user_id, mine=True, page=page, page_size=page_size)

    async def statuses(self, shop_id: int) -> list[tuple[str, Mapping[str, str]]]:
        """The current workflow's statuses in its order, with titles: the filter buttons."""
        async with reading(self._sessions) as session:
            try:
                definition = await self._workflows.current(session, shop_id)
            except LookupError:
                raise Refused(Reason.NOT_FOUND, "no such shop") from None
            workflow = await self._workflows.get(session, definition.id)
            return [(s.code, s.title) for s in workflow.statuses]

    # -- the pieces ------------------------------------------------------------------------

    async def _versions(self, session: AsyncSession, shop_id: int) -> dict[int, Workflow]:
        """Every version of the shop's workflow: versions never change, so all but new
        ones come from the store's cache."""
        ids = await session.scalars(
            select(WorkflowDefinition.id).where(WorkflowDefinition.shop_id == shop_id)
        )
        return {id_: await self._workflows.get(session, id_) for id_ in list(ids)}

    async def _search(self, session: AsyncSession, shop_id: int, text: str) -> ColumnElement:
        matches: list[ColumnElement] = []
        number = _ORDER_NUMBER.match(text)
        if number:
            matches.append(Order.number == int(number.group(1)))
        if not text.startswith("#"):  # "#12" is an order number only
            country = await session.scalar(select(Shop.country).where(Shop.id == shop_id))
            try:
                matches.append(Buyer.phone == normalize_phone(text, country or ""))
            except OrderRefused:
                pass  # not a phone; perhaps the order number matched
        if not matches:
            raise invalid("search", "search by an order number (#12) or the buyer's phone")
        return or_(*matches)


def _mine(versions: Mapping[int, Workflow], roles: frozenset[str]) -> ColumnElement:
    if roles & SUPERVISOR_ROLES:
        return _in_statuses(versions, lambda s: not s.is_final)
    return _in_statuses(versions, lambda s: not s.is_final and s.responsible in roles)


def _in_statuses(versions: Mapping[int, Workflow], keep: Callable[[Status], bool]) -> ColumnElement:
    """Orders whose status, in their own workflow version, is one `keep` accepts."""
    by_codes: dict[frozenset[str], list[int]] = defaultdict(list)
    for definition_id, workflow in versions.items():
        codes = frozenset(s.code for s in workflow.statuses if keep(s))
        if codes:
            by_codes[codes].append(definition_id)
    if not by_codes:
        return false()
    return or_(
        *(
            and_(Order.workflow_id.in_(ids), Order.status.in_(sorted(codes)))
            for codes, ids in by_codes.items()
        )
    )


def _title(workflow: Workflow, status: str) -> Mapping[str, str]:
    try:
        return workflow.status(status).title
    except KeyError:
        return {}


def _reserved_income():
    """A paid order's income as the ledger reserved it: the terms of its payment day, even if
    the shop's commission has changed since (unpaid orders show today's terms)."""
    return (
        select(func.sum(LedgerEntry.amount))
        .where(LedgerEntry.order_id == Order.id, LedgerEntry.kind == "reserve_income")
        .correlate(Order)
        .scalar_subquery()
        .label("reserved_income")
    )
