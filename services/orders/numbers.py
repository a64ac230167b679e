"""Public order numbers taken outside the new order's transaction (PostgreSQL).

A shop's numbers count in a row of their own (`order_counters`, one per shop: not the shop's
row, which every new order's foreign keys lock; storage.models.OrderCounter says why). Taken
inside the order's transaction, the row stays locked until that transaction commits, so
every other new order of the shop waits for it: under a storefront's burst one shop's orders
are made one whole transaction at a time, however many connections and instances there are
(issue 15: two instances made fewer orders a second than one, the database's connections
waiting on that row's lock). Here the number is taken by one statement committed at once
(autocommit: no BEGIN and COMMIT round trips), so the lock lasts that statement. It runs on
a small pool of its own, never the order transaction's: a transaction waiting for a second
connection from its own exhausted pool would wait for ever.

The price is a gap, as PostgreSQL's sequences have: an order that takes a number and then
fails (a duplicate external id, a crash) leaves its number unused. SQLite keeps the number
in the order's transaction: its writers take turns anyway, and a second write transaction
would cost more than it saves.

The number's commit does not wait for the disk (`synchronous_commit` off on these
connections). The counter's row stays locked until its commit is done, so every number of a
shop waited for the previous one's disk flush. Nothing is lost by not waiting: the order
that uses a number commits later, on the same server, and its own commit (which does wait)
flushes the write-ahead log up to itself, the number's update included. A crash before that
can lose only numbers no committed order holds, which are then handed out again.

The pool holds as many connections as a burst of new orders needs to take numbers at once
without waiting for each other's answers to be read (issue 15: with two, 32 storefront
requests in flight made 120 orders a second on one instance, with five 185; with eight
hardly more). Ten are kept open, as many as five and five more under a burst were before:
storage.database keeps every connection it may open.
"""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine, is_sqlite
from storage.models import OrderCounter

POOL_SIZE = 10

# Built once, one statement (every new order runs it, issue 15), the same SQL in SQLite and
# PostgreSQL: a shop's first order makes its counter (a shop needs none made with it).
NEXT_NUMBER = (
    text(
        "INSERT INTO order_counters (shop_id, last_number) VALUES (:of_shop, 1) "
        "ON CONFLICT (shop_id) DO UPDATE SET last_number = order_counters.last_number + 1 "
        "RETURNING last_number"
    )
    .bindparams(bindparam("of_shop", type_=Integer))
    .columns(OrderCounter.__table__.c.last_number)
)


class OrderNumbers:
    """Takes a shop's next order number in a transaction of its own."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def take(self, shop_id: int) -> int:
        """The shop's next number, committed already (IntegrityError: no such shop)."""
        async with self._engine.connect() as connection:  # autocommit: one round trip
            return await connection.scalar(NEXT_NUMBER, {"of_shop": shop_id})

    async def close(self) -> None:
        await self._engine.dispose()


def order_numbers(database_url: str) -> OrderNumbers | None:
    """Numbers on their own (PostgreSQL), or None: in the order's transaction (SQLite)."""
    if is_sqlite(database_url):
        return None
    return OrderNumbers(
        create_engine(database_url, pool_size=POOL_SIZE, autocommit=True, synchronous_commit=False)
    )
