"""One transaction's working set: its session, its clock reading, its outbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Row, Select, and_, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, raiseload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from services import log_context
from services.messaging.notifications.outbox import Outbox
from services.orders import new_rows
from services.orders.access import Who, who_is
from services.orders.actors import ActorRef, ActorType
from services.orders.events import EVENT_COLUMNS, event_row, record
from services.orders.numbers import NEXT_NUMBER, OrderNumbers
from services.refusals import OrderRefused, Problem
from services.time import timers
from services.workflow.definition import Workflow
from services.workflow.store import WorkflowStore
from storage import direct, held, loaded
from storage.models import Buyer, Order, OrderEvent, OrderItem, Shop, StaffMember
from storage.statements import Along, joins_writes, numbered, numbered_row

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
    # Where new orders' numbers come from: None, this transaction (services.orders.numbers).
    numbers: OrderNumbers | None = None
    # PostgreSQL: audit event ids taken from their sequence with an order's locked load, so
    # its status change may be held back to the transaction's last statement (status_rows).
    _event_ids: dict[int, list[int]] = field(default_factory=dict)
    # PostgreSQL: ids for new orders' rows, taken with their shop (services.orders.new_rows).
    _new_ids: new_rows.NewIds | None = None

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
        ids = lock and joins_writes(self.session)
        parameters = {"order_id": order_id, "user_id": user_id}
        found: _Found | None = None
        if not items and identity_key(Order, order_id) not in self.session.identity_map:
            query = _order_row_query(user_id is not None, lock, ids)
            rows = await direct.rows(self.session, query, parameters)
            if not rows:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            found = _made(self.session.sync_session, rows, user_id is not None)
        if found is None:  # through the ORM: the items with it, or objects it refreshes
            query = _order_query(user_id is not None, items, lock, ids)
            rows = (await self.session.execute(query, parameters)).all()
            if not rows:
                raise OrderRefused(Problem.NOT_FOUND, "no such order")
            roles = [row[2] for row in rows] if user_id is not None else []
            found = _Found(rows[0][0], rows[0][1], roles, rows[0][-1])
        order = found.order
        if ids:
            self._event_ids[order.id] = list(found.event_ids)
        self._shops[order.shop_id] = found.shop
        log_context.order_loaded(order.shop_id, order.number)
        if user_id is not None:
            self._roles[(order.shop_id, user_id)] = frozenset(r for r in found.roles if r)
        return order

    async def load_items(self, order: Order) -> None:
        """The goods of an order loaded without them (`load(items=False)`), in one statement
        (`session.refresh(order, ["items"])` takes two: the order's key, then the items)."""
        rows = await direct.rows(self.session, _ITEM_ROWS, {"order_id": order.id})
        session = self.session.sync_session
        if all(loaded.fresh(session, (_ITEM_COLUMNS,), row) for row in rows):
            items = [loaded.make(session, _ITEM_COLUMNS, row) for row in rows]
        else:  # goods the session has already: the ORM refreshes them
            items = list(await self.session.scalars(_ITEMS, {"order_id": order.id}))
        set_committed_value(order, "items", items)

    async def who(self, order: Order, ref: ActorRef) -> Who:
        """Who is asking about this order (see services.orders.access.who_is)."""
        known = self._roles.get((order.shop_id, ref.user_id))
        return await who_is(self.session, order, ref, roles=known)

    async def shop(self, shop_id: int) -> Shop | None:
        """The shop, as this transaction read it already or by one statement built once
        (`session.get` builds its query and the query's cache key on every call)."""
        shop = self._shops.get(shop_id)
        if shop is None:
            shop = await self.session.scalar(_SHOP, {"shop_id": shop_id})
            if shop is not None:
                self._shops[shop_id] = shop
        return shop

    async def shop_for_new_orders(self, shop_id: int, items: int) -> Shop | None:
        """The shop, as `shop` reads it; on PostgreSQL with ids for the rows of new orders
        of `items` goods in all, so that `add_new_order` may hold them back."""
        if not joins_writes(self.session) or shop_id in self._shops:
            return await self.shop(shop_id)
        shop, self._new_ids = await new_rows.shop_with_ids(self.session, shop_id, items)
        if shop is not None:
            self._shops[shop_id] = shop
        return shop

    async def add_new_order(self, order: Order) -> None:
        """A new order, its goods and its buyer: their rows held back to the transaction's
        last statement when ids were taken for them (services.orders.new_rows), else
        flushed by the session now. Either way they have their ids when this returns."""
        if self._new_ids is not None and await new_rows.hold(self.session, order, self._new_ids):
            return
        self.session.add(order)
        await self.session.flush()

    async def workflow(self, order: Order) -> Workflow:
        return await self.workflows.get(self.session, order.workflow_id)

    async def next_number(self, shop_id: int) -> int:
        """Public order numbers count per shop; the row update serialises concurrent ones,
        in this transaction or in one of its own (services.orders.numbers)."""
        if self.numbers is not None:
            return await self.numbers.take(shop_id)
        return await self.session.scalar(NEXT_NUMBER, {"of_shop": shop_id})

    async def change_timers(
        self, order_id: int, *, cancel: bool, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """The order's timers as its change of status leaves them (timers.change). On
        PostgreSQL the change is held back and written with the outbox's rows at the end
        (`finish`): one round trip for both (services.time.timers says why it may)."""
        planned = timers.plan(self.session, order_id, self.now, cancel=cancel, rows=rows)
        if planned is None:
            return
        if joins_writes(self.session):
            await timers.hold(self.session, planned)
        else:
            await timers.write(self.session, planned)

    async def finish(self) -> None:
        """The transaction's last writes: the writes held back (storage.held) and the
        outbox's rows, on PostgreSQL in one statement."""
        if self.outbox.keys:
            await self.outbox.write(self.session, along=held.take(self.session))
        else:
            await held.send(self.session)

    def take_event_ids(self, order_id: int, count: int) -> list[int] | None:
        """`count` audit event ids taken for the order with its locked load, or None (not
        locked here, not PostgreSQL, or not that many left)."""
        ids = self._event_ids.get(order_id)
        if ids is None or len(ids) < count:
            return None
        taken, ids[:count] = ids[:count], []
        return taken

    def add_event(self, order: Order, who: Who | None, **fields: Any) -> OrderEvent:
        event = record(order, who, self.now, **fields)
        self.session.add(event)
        return event

    async def add_event_unread(self, order: Order, who: Who | None, **fields: Any) -> None:
        """An audit event nothing reads back in this transaction, its id included: on
        PostgreSQL held back to go with the transaction's last statement (storage.held),
        not flushed by the session at the commit (a unit-of-work pass for one row)."""
        event = record(order, who, self.now, **fields)
        if not joins_writes(self.session):
            self.session.add(event)
            return
        along = Along((_NEW_EVENT,), numbered([event_row(event)], "n"))
        await held.hold(self.session, held.Write(_NEW_EVENT_KEYS, _EVENTS, lambda: along))


@cache
def _order_query(with_roles: bool, items: bool, lock: bool, event_ids: bool = False):
    """The order with its shop (and the asking person's staff roles in it), by `order_id`
    (and `user_id`). Built once per variant: SQLAlchemy memoizes a statement's cache key on
    the statement, so the hottest read costs neither building nor keying again (issue 15).

    The shop comes along into the session's identity map: a change reads it for the
    suspension check and the time limits, which then cost no round trip. `event_ids`
    (PostgreSQL): the last column, EVENT_IDS ids of audit events from their sequence
    (an uncorrelated subquery: evaluated once, whatever the rows)."""
    query = (
        select(Order, Shop, StaffMember.role).outerjoin(
            StaffMember,
            and_(
                StaffMember.shop_id == Order.shop_id,
                StaffMember.user_id == bindparam("user_id"),
            ),
        )
        if with_roles
        else select(Order, Shop)
    )
    if event_ids:
        query = query.add_columns(_EVENT_IDS)
    query = (
        query.join(Shop, Shop.id == Order.shop_id)
        .where(Order.id == bindparam("order_id"))
        .options(selectinload(Order.items) if items else raiseload(Order.items))
        .execution_options(populate_existing=True)
    )
    if lock:
        # PostgreSQL: concurrent changes of one order queue up here. SQLite has one
        # writer at a time already (BEGIN IMMEDIATE) and ignores FOR UPDATE.
        query = query.with_for_update(of=Order)
    return query


# The order's row read as columns (Unit.load, `_made`): the order's, its buyer's and its
# shop's in table order, then the asking person's role, then (PostgreSQL) the event ids.
_ORDER_COLUMNS = loaded.Entity.at(Order, 0)
_BUYER_COLUMNS = loaded.Entity.at(Buyer, _ORDER_COLUMNS.width)
_SHOP_COLUMNS = loaded.Entity.at(Shop, _ORDER_COLUMNS.width + _BUYER_COLUMNS.width)
_LOADED = (_ORDER_COLUMNS, _BUYER_COLUMNS, _SHOP_COLUMNS)
# The asking person's role, when asked for.
_ROLE = _ORDER_COLUMNS.width + _BUYER_COLUMNS.width + _SHOP_COLUMNS.width


@dataclass(frozen=True)
class _Found:
    """An order's load: the order (its buyer along), its shop, the asking person's roles
    (one per row, None without any) and the audit event ids taken (PostgreSQL, when asked
    for; else the row's last column, unread)."""

    order: Order
    shop: Shop
    roles: Sequence[str | None]
    event_ids: Any


def _made(session: Session, rows: Sequence[Row], with_roles: bool) -> _Found | None:
    """`_order_row_query`'s rows made into the session's objects (storage.loaded: the ORM's
    per-execution setup cost more than the read); None when the order's buyer or shop is
    in the session already (the ORM refreshes those: the caller reads through it). The
    order's goods are not loaded, as with the ORM's `raiseload`: `Unit.load_items` reads
    them (touched before, the async session refuses the lazy load)."""
    row = rows[0]
    if not loaded.fresh(session, _LOADED, row):
        return None
    order = loaded.make(session, _ORDER_COLUMNS, row)
    loaded.set_loaded(order, "buyer", loaded.make(session, _BUYER_COLUMNS, row))
    roles = [r[_ROLE] for r in rows] if with_roles else []
    return _Found(order, loaded.make(session, _SHOP_COLUMNS, row), roles, row[-1])


@cache
def _order_row_query(with_roles: bool, lock: bool, event_ids: bool = False) -> Select:
    """`_order_query` without the items, as columns for storage.loaded (the same joins,
    lock and event ids)."""
    orders, buyers, shops = Order.__table__, Buyer.__table__, Shop.__table__
    joined = orders.join(shops, shops.c.id == orders.c.shop_id).outerjoin(
        buyers, buyers.c.id == orders.c.buyer_id
    )
    columns = [*orders.c, *buyers.c, *shops.c]
    if with_roles:
        staff = StaffMember.__table__
        joined = joined.outerjoin(
            staff,
            and_(staff.c.shop_id == orders.c.shop_id, staff.c.user_id == bindparam("user_id")),
        )
        columns.append(staff.c.role)
    if event_ids:
        columns.append(_EVENT_IDS)
    query = select(*columns).select_from(joined).where(orders.c.id == bindparam("order_id"))
    if lock:
        query = query.with_for_update(of=orders)
    return query


# A change of status writes one audit event per step: an action and the automatic steps it
# chains to. Ids for more are not taken ahead: such a change is written as it is made.
EVENT_IDS = 3
_EVENT_IDS = (
    select(
        func.array_agg(
            func.nextval(func.pg_get_serial_sequence("order_events", "id")),
            type_=ARRAY(BigInteger),
        )
    )
    .select_from(func.generate_series(1, EVENT_IDS))
    .scalar_subquery()
)

_events = OrderEvent.__table__
# One new event held (its id from the sequence's default); a second sends the first.
_NEW_EVENT = insert(_events).values(numbered_row(_events, EVENT_COLUMNS, 0, "n"))
_NEW_EVENT_KEYS = frozenset({"new event"})
_EVENTS = frozenset({"order_events"})

_SHOP = select(Shop).where(Shop.id == bindparam("shop_id"))

_ITEMS = (
    select(OrderItem)
    .where(OrderItem.order_id == bindparam("order_id"))
    .order_by(OrderItem.position)
)
# The same as columns, made into objects by storage.loaded (Unit.load_items).
_ITEM_COLUMNS = loaded.Entity.at(OrderItem, 0)
_items = OrderItem.__table__
_ITEM_ROWS = (
    select(*_items.c).where(_items.c.order_id == bindparam("order_id")).order_by(_items.c.position)
)
