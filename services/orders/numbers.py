"""Public order numbers taken outside the new order's transaction (PostgreSQL).

A shop's numbers count in its row (`shops.last_order_number`). Taken inside the order's
transaction, the row stays locked until that transaction commits, so every other new order
of the shop waits for it: under a storefront's burst one shop's orders are made one whole
transaction at a time, however many connections and instances there are (issue 15: two
instances made fewer orders a second than one, the database's connections waiting on that
row's lock). Here the number is taken by one statement committed at once (autocommit: no
BEGIN and COMMIT round trips), so the lock lasts that statement. It runs on a small pool of
its own, never the order transaction's: a transaction waiting for a second connection from
its own exhausted pool would wait for ever.

The price is a gap, as PostgreSQL's sequences have: an order that takes a number and then
fails (a duplicate external id, a crash) leaves its number unused. SQLite keeps the number
in the order's transaction: its writers take turns anyway, and a second write transaction
would cost more than it saves.

The number's commit does not wait for the disk (`synchronous_commit` off on these
connections). The shop's row stays locked until its commit is done, so every number of a
shop waited for the previous one's disk flush. Nothing is lost by not waiting: the order
that uses a number commits later, on the same server, and its own commit (which does wait)
flushes the write-ahead log up to itself, the number's update included. A crash before that
can lose only numbers no committed order holds, which are then handed out again.

The pool holds as many connections as a burst of new orders needs to take numbers at once
without waiting for each other's answers to be read (issue 15: with two, 32 storefront
requests in flight made 120 orders a second on one instance, with five 185; with eight
hardly more).
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine, is_sqlite
from storage.models import Shop

POOL_SIZE = 5  # up to twice that under a burst (storage.database's overflow)

_shops = Shop.__table__
# Built once, a Core UPDATE of the table: every new order runs it (issue 15).
NEXT_NUMBER = (
    update(_shops)
    .where(_shops.c.id == bindparam("of_shop"))
    .values(last_order_number=_shops.c.last_order_number + 1)
    .returning(_shops.c.last_order_number)
)


class OrderNumbers:
    """Takes a shop's next order number in a transaction of its own."""

    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def take(self, shop_id: int) -> int | None:
        """The shop's next number, committed already; None when there is no such shop."""
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
