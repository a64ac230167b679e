"""The order as its e-mail needs it, read in one Core statement (issue 15).

A mail only reads: the order, its buyer, its goods and its shop. Loading them as ORM objects
cost more than the rest of the mail together (a session, its identity map, the unit of work
it never uses, the joined eager load's row processing), so the mail reads plain rows on a
read-only connection (no write lock, no place in the writers' queue) with one statement
built once: SQLAlchemy keeps its compiled form and its cache key.

What it gives has the attributes of the models' columns under the same names (and an
item's `line_total`), so the mail's context reads them as it read the ORM objects; these
are snapshots, not rows of a session: nothing written to them goes anywhere.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from sqlalchemy import Select, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from storage.database import READ_ONLY
from storage.models import Buyer, Order, OrderItem, Shop

# Column labels: the model's prefix and the attribute's name ("o_status", "i_sku").
_PREFIXES = {Order: "o_", Buyer: "b_", Shop: "s_", OrderItem: "i_"}


class OrderSnapshot(SimpleNamespace):
    """An order's columns, with `buyer` and `items` (in their positions' order)."""


class ShopSnapshot(SimpleNamespace):
    """A shop's columns."""


class ItemSnapshot(SimpleNamespace):
    """A line of goods' columns."""

    @property
    def line_total(self) -> int:  # as OrderItem.line_total
        return self.unit_price * self.quantity - self.discount


def _keys(model) -> tuple[str, ...]:
    return tuple(attribute.key for attribute in inspect(model).column_attrs)


@cache
def _layout() -> dict[type, tuple[tuple[str, str], ...]]:
    """Per model: (attribute name, column label)."""
    return {
        model: tuple((key, prefix + key) for key in _keys(model))
        for model, prefix in _PREFIXES.items()
    }


@cache
def order_statement() -> Select:
    """The order with its buyer and shop, one row per item (one row with NULL item columns
    when it has none); `:order_id` bound at execution."""
    columns = [
        getattr(model, key).label(label)
        for model, pairs in _layout().items()
        for key, label in pairs
    ]
    return (
        select(*columns)
        .select_from(Order)
        .join(Buyer, Buyer.id == Order.buyer_id)
        .join(Shop, Shop.id == Order.shop_id)
        .outerjoin(OrderItem, OrderItem.order_id == Order.id)
        .where(Order.id == bindparam("order_id"))
        .order_by(OrderItem.position, OrderItem.id)
    )


async def read_order(
    connection: AsyncConnection, order_id: int
) -> tuple[OrderSnapshot, ShopSnapshot] | None:
    """The order and its shop; None when there is no such order."""
    result = await connection.execute(order_statement(), {"order_id": order_id})
    rows = [row._mapping for row in result]
    if not rows:
        return None
    layout = _layout()
    first = rows[0]
    order = OrderSnapshot(**{key: first[label] for key, label in layout[Order]})
    order.buyer = SimpleNamespace(**{key: first[label] for key, label in layout[Buyer]})
    item_id = dict(layout[OrderItem])["id"]
    order.items = [
        ItemSnapshot(**{key: row[label] for key, label in layout[OrderItem]})
        for row in rows
        if row[item_id] is not None
    ]
    shop = ShopSnapshot(**{key: first[label] for key, label in layout[Shop]})
    return order, shop


def read_only_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The sessions' engine, its connections marked as only reading (storage.database's
    READ_ONLY: a plain BEGIN on SQLite, never the writers' queue)."""
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the mail reader needs sessions bound to an engine")
    return engine.execution_options(**{READ_ONLY: True})
