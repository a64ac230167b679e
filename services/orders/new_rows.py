"""A new order's rows written with the transaction's last statement (PostgreSQL).

A new order is its buyer's row (unless it is the second half of a split order), its own and
its goods'. Their ids are taken from the tables' sequences with the shop's read at the start
of the transaction (`shop_with_ids`), so every value of the rows is known before they are
written: the INSERTs are held back (storage.held) to ride on the transaction's last
statement, and the objects become the session's without its flush (storage.inserted says
what that saves). Anything that reads those tables before then sends them first, as held
writes always are. An id taken and not used (an order refused, one not split after all) is
a gap, as any sequence leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import ARRAY, Integer, Select, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import held, inserted
from storage.models import Buyer, Order, OrderItem, Shop
from storage.statements import Along, numbered, numbered_row

# A draft makes at most two orders (in stock, made to order) and one buyer.
MOST_ORDERS = 2

_buyers, _orders, _items = Buyer.__table__, Order.__table__, OrderItem.__table__
_KEYS = frozenset({"new order"})  # one held at a time: their parameters share names
_TABLES = frozenset({_buyers.name, _orders.name, _items.name})


@dataclass
class NewIds:
    """Ids taken from the sequences for the orders of one draft, given out in turn."""

    buyers: list[int]
    orders: list[int]
    items: list[int]


def _ids(table, count) -> object:
    return (
        select(
            func.array_agg(
                func.nextval(func.pg_get_serial_sequence(table.name, "id")),
                type_=ARRAY(Integer),
            )
        )
        .select_from(func.generate_series(1, count))
        .scalar_subquery()
    )


# The shop with ids for a draft's rows: one statement, built once.
_SHOP_WITH_IDS: Select = select(
    Shop,
    _ids(_buyers, 1),
    _ids(_orders, MOST_ORDERS),
    _ids(_items, bindparam("items", type_=Integer)),
).where(Shop.id == bindparam("shop_id"))


async def shop_with_ids(
    session: AsyncSession, shop_id: int, items: int
) -> tuple[Shop | None, NewIds | None]:
    """The shop, and ids for a draft of `items` goods (None with no such shop)."""
    found = (await session.execute(_SHOP_WITH_IDS, {"shop_id": shop_id, "items": items})).first()
    if found is None:
        return None, None
    shop, buyers, orders, goods = found
    return shop, NewIds(list(buyers), list(orders), list(goods))


async def hold(session: AsyncSession, order: Order, ids: NewIds) -> bool:
    """Give the new order (its goods, its buyer if new) their ids, make them the session's
    and hold their INSERTs back. False, having done nothing: too few ids left for it."""
    buyer = order.buyer
    new_buyer = buyer.id is None
    if (
        not order.items
        or not ids.orders
        or len(ids.items) < len(order.items)
        or (new_buyer and not ids.buyers)
    ):
        return False
    if new_buyer:
        buyer.id = ids.buyers.pop(0)
    order.id, order.buyer_id = ids.orders.pop(0), buyer.id
    for item in order.items:
        item.id, item.order_id = ids.items.pop(0), order.id
    parameters = numbered([inserted.row(order)], "no") | numbered(
        [inserted.row(item) for item in order.items], "ni"
    )
    if new_buyer:
        parameters |= numbered([inserted.row(buyer)], "nb")
    inserted.persist(session.sync_session, order, *([buyer] if new_buyer else ()), *order.items)
    along = Along(_statements(new_buyer, len(order.items)), parameters)
    await held.hold(session, held.Write(_KEYS, _TABLES, lambda: along))
    return True


@cache
def _statements(new_buyer: bool, items: int) -> tuple:
    """The INSERTs of a new order's rows, kept per shape (storage.direct compiles a
    statement once). The foreign keys between them are checked at the end of the statement
    they ride on, when all are written."""
    statements = [
        _insert(_orders, 1, "no"),
        _insert(_items, items, "ni"),
    ]
    if new_buyer:
        statements.insert(0, _insert(_buyers, 1, "nb"))
    return tuple(statements)


def _insert(table, count: int, prefix: str):
    columns = tuple(column.key for column in table.columns)
    return insert(table).values([numbered_row(table, columns, i, prefix) for i in range(count)])
