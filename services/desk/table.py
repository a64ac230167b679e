"""The order table (K1, seed 004's "list of orders"): every order of every shop a person
works in, filtered, sorted and paged on the server.

Pages are cursors (the last row's sort key and id), not offsets, so page 500 of a shop with
100,000 orders costs what page 1 does: the index (shop_id, created_at, id) serves the default
"newest first". Staff only; a buyer's own orders are `services.desk.buyer`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.desk.scope import DeskShop, desk_shops, in_statuses, mine, open_statuses
from services.desk.table_query import (
    MAX_LIMIT,
    Sort,
    TableQuery,
    View,
    decode_cursor,
    encode_cursor,
)
from services.money.ledger.income import commission
from services.money.ledger.terms import Terms
from services.orders.drafts import normalize_phone
from services.refusals import OrderRefused
from services.time import sla
from services.time.clock import Clock
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Buyer, LedgerEntry, Order, OrderItem
from storage.types import UTCDateTime

EXPORT_LIMIT = 50_000  # rows in one CSV/XLSX export; narrower filters for more
# Orders without a time limit sort after every order with one ("time left": soonest first).
_NO_LIMIT = datetime(9999, 1, 1, tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True)
class TableRow:
    id: int
    shop_id: int
    shop_name: str
    number: int
    created_at: datetime
    buyer_name: str
    buyer_phone: str | None
    total: int  # minor units
    income: int  # the shop's income: the goods minus the commission (004)
    currency: str
    status: str
    status_title: Mapping[str, str]
    status_final: bool
    responsible: str | None  # the staff role that works the status
    problem: bool
    time_left: timedelta | None  # working time before the status's limit (B2)
    payment_method: str
    delivery_method: str
    version: int


@dataclass(frozen=True)
class TablePage:
    rows: list[TableRow]
    next_cursor: str | None
    total: int | None  # matching orders on all pages (first page only)
    shops: list[DeskShop]


class DeskTable:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def page(self, user_id: int, query: TableQuery) -> TablePage:
        async with reading(self._sessions) as session:
            shops = await desk_shops(session, self._workflows, user_id, query.shop_id)
            where = await _filters(session, shops, query)
            statement = _rows(where, query).limit(query.limit + 1)
            result = list(await session.execute(statement))
            more = len(result) > query.limit
            result = result[: query.limit]
            total = None
            if query.after is None:
                total = await session.scalar(_count(where, query))
            rows = self._table_rows(result, shops)
        cursor = None
        if more and rows:
            last = result[-1]
            cursor = encode_cursor(query, last.sort_key, last.id)
        return TablePage(rows, cursor, total, shops)

    async def export(self, user_id: int, query: TableQuery) -> AsyncIterator[list[TableRow]]:
        """Every row the filters match, in batches, up to EXPORT_LIMIT (CSV and XLSX)."""
        batch = replace(query, after=None, limit=MAX_LIMIT)
        sent = 0
        while sent < EXPORT_LIMIT:
            page = await self.page(user_id, batch)
            if not page.rows:
                return
            yield page.rows
            sent += len(page.rows)
            if page.next_cursor is None:
                return
            batch = replace(batch, after=decode_cursor(page.next_cursor, batch))

    def _table_rows(self, result, shops: list[DeskShop]) -> list[TableRow]:
        by_id = {shop.id: shop for shop in shops}
        now = self._clock.now()
        calendars = {}
        rows = []
        for row in result:
            shop = by_id[row.shop_id]
            status = shop.status_of(row.workflow_id, row.status)
            time_left = None
            if row.sla_deadline_at is not None:
                if shop.id not in calendars:
                    calendars[shop.id] = sla.calendar(shop.shop)
                time_left = calendars[shop.id].between(now, row.sla_deadline_at)
            goods = row.items_total - row.discount
            income = row.reserved_income
            if income is None:
                income = goods - commission(goods, Terms.of(shop.shop.settings).percent)
            rows.append(
                TableRow(
                    id=row.id,
                    shop_id=shop.id,
                    shop_name=shop.shop.name,
                    number=row.number,
                    created_at=row.created_at,
                    buyer_name=row.name,
                    buyer_phone=row.phone,
                    total=row.total,
                    income=income,
                    currency=row.currency,
                    status=row.status,
                    status_title=status.title if status else {},
                    status_final=bool(status and status.is_final),
                    responsible=status.responsible if status else None,
                    problem=row.problem,
                    time_left=time_left,
                    payment_method=row.payment_method,
                    delivery_method=row.delivery_method,
                    version=row.version,
                )
            )
        return rows


def _sort_key(sort: Sort) -> ColumnElement:
    if sort is Sort.NUMBER:
        return Order.number
    if sort is Sort.TOTAL:
        return Order.total
    if sort is Sort.STATUS:
        return Order.status
    if sort is Sort.TIME_LEFT:
        return func.coalesce(Order.sla_deadline_at, literal(_NO_LIMIT, UTCDateTime()))
    return Order.created_at


def _rows(where: list[ColumnElement], query: TableQuery) -> Select:
    key = _sort_key(query.sort)
    if query.after is not None:
        value, last_id = query.after
        if query.sort in (Sort.CREATED, Sort.TIME_LEFT):
            value = literal(value, UTCDateTime())
        position = tuple_(key, Order.id)
        bound = tuple_(value, last_id)
        where = [*where, position < bound if query.descending else position > bound]
    ordering = [key.desc(), Order.id.desc()] if query.descending else [key.asc(), Order.id.asc()]
    return (
        select(
            Order.id,
            Order.shop_id,
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
            Order.payment_method,
            Order.delivery_method,
            Order.version,
            _reserved_income(),
            key.label("sort_key"),
        )
        .join(Buyer, Buyer.id == Order.buyer_id)
        .where(*where)
        .order_by(*ordering)
    )


def _count(where: list[ColumnElement], query: TableQuery) -> Select:
    return select(func.count()).select_from(Order).where(*where)


async def _filters(
    session: AsyncSession, shops: list[DeskShop], query: TableQuery
) -> list[ColumnElement]:
    per_shop = []
    for shop in shops:
        if query.mine:
            per_shop.append(mine(shop))
        elif query.view is View.OPEN and not query.statuses:
            per_shop.append(open_statuses(shop))
        elif query.view is View.CLOSED and not query.statuses:
            per_shop.append(in_statuses(shop, lambda s: s.is_final))
        else:
            per_shop.append(Order.shop_id == shop.id)
    where: list[ColumnElement] = [or_(*per_shop) if len(per_shop) > 1 else per_shop[0]]
    if query.statuses:
        where.append(Order.status.in_(query.statuses))
    if query.problem:
        where.append(Order.problem.is_(True))
    if query.payment:
        where.append(Order.payment_method == query.payment)
    if query.delivery:
        where.append(Order.delivery_method == query.delivery)
    zone = ZoneInfo(shops[0].shop.timezone)  # dates are the (first) shop's days
    if query.created_from:
        where.append(Order.created_at >= datetime.combine(query.created_from, time(), zone))
    if query.created_to:
        end = datetime.combine(query.created_to + timedelta(days=1), time(), zone)
        where.append(Order.created_at < end)
    if query.amount_min is not None:
        where.append(Order.total >= query.amount_min)
    if query.amount_max is not None:
        where.append(Order.total <= query.amount_max)
    if query.search is not None:
        where.append(_search(query.search, shops))
    return where


def _search(text: str, shops: list[DeskShop]) -> ColumnElement:
    """Number ("12", "#12"), the buyer's name or phone, or an item's SKU.

    The buyers and the goods are searched on their own (narrow tables, read once), and the
    orders then found by their indexes: not a look at every order's buyer and goods.
    """
    buyer_matches: list[ColumnElement] = [Buyer.name.icontains(text, autoescape=True)]
    for country in sorted({shop.shop.country for shop in shops}):
        try:
            buyer_matches.append(Buyer.phone == normalize_phone(text, country))
        except OrderRefused:
            pass
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) >= 5:  # part of a phone number
        buyer_matches.append(Buyer.phone.contains(digits))
    matches: list[ColumnElement] = [
        Order.buyer_id.in_(
            select(Buyer.id).where(
                Buyer.shop_id.in_([shop.id for shop in shops]), or_(*buyer_matches)
            )
        ),
        Order.id.in_(
            select(OrderItem.order_id).where(OrderItem.sku.icontains(text, autoescape=True))
        ),
    ]
    number = text.lstrip("#").strip()
    if number.isdigit() and len(number) <= 9:
        matches.append(Order.number == int(number))
    return or_(*matches)


def _reserved_income():
    """A paid order's income as the ledger reserved it (the terms of its payment day)."""
    return (
        select(func.sum(LedgerEntry.amount))
        .where(LedgerEntry.order_id == Order.id, LedgerEntry.kind == "reserve_income")
        .correlate(Order)
        .scalar_subquery()
        .label("reserved_income")
    )
