"""One order's ledger entries, read at the start of a change and kept up to date as it posts.

Every posting for an order goes through `OrderBook.post`, so the book always knows the
order's balances; `save` then writes the new entries and what the order shows about its
money (`amount_paid`, `balance_due`) in the same transaction.

Entries are read and written as plain rows by statements built once, not as ORM objects: a
posting is written once and never changed, and the unit of work cost a third of a
millisecond for every payment's single entry (issue 15).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Executable, Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.money.ledger.accounts import HELD, Account, Kind
from services.orders.status_rows import held_status, status_key
from storage import direct, held
from storage.models import LedgerEntry, Order, OrderEvent
from storage.statements import Along, joins_writes, numbered, numbered_row

_HELD = frozenset(str(account) for account in HELD)
# Where the buyer's money comes from into an order: new money, or money settling what the
# buyer owed (an order split off with nothing brought along owes its whole total, so its
# payment moves only from `amount_due`).
_INCOMING = frozenset({str(Account.BUYER_PAYMENTS), str(Account.AMOUNT_DUE)})
_CREDIT_KINDS = frozenset({Kind.CREDIT_INCOME, Kind.CREDIT_DELIVERY, Kind.EARN_FEE})


class Entry(NamedTuple):
    """What the book counts of a posting (a row read, or one posted in this change)."""

    dedupe_key: str
    kind: str
    amount: int
    debit_account: str
    credit_account: str
    order_item_id: int | None
    quantity: int | None


@dataclass
class OrderBook:
    """An order's entries as read at the start of the change, plus those added since."""

    session: AsyncSession
    order: Order
    now: datetime
    keys: set[str] = field(default_factory=set)
    balances: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    kinds: set[str] = field(default_factory=set)
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    returned: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # units
    # The buyer's money has come in for the order (a payment, or what a split brought).
    received: bool = False
    # Posted in this change, not written yet: `save` writes them.
    unsaved: list[dict] = field(default_factory=list)

    @classmethod
    async def read(cls, session: AsyncSession, order: Order, now: datetime) -> OrderBook:
        book = cls(session, order, now)
        for row in await direct.rows(session, _ENTRIES, {"order_id": order.id}):
            book._count(Entry._make(row))
        return book

    def _count(self, entry: Entry) -> None:
        self.keys.add(entry.dedupe_key)
        self.kinds.add(entry.kind)
        self.by_kind[entry.kind] += entry.amount
        self.balances[entry.debit_account] += entry.amount
        self.balances[entry.credit_account] -= entry.amount
        if entry.credit_account in _INCOMING and entry.debit_account in _HELD:
            self.received = True
        if entry.kind == Kind.RETURN_INCOME and entry.order_item_id is not None:
            self.returned[entry.order_item_id] += entry.quantity or 0

    @property
    def paid(self) -> bool:
        return self.received

    @property
    def credited(self) -> bool:
        return bool(self.kinds & _CREDIT_KINDS)

    @property
    def refunded(self) -> bool:
        """Cancelled with its money given back: nothing is held for it any more."""
        return Kind.REFUND_GOODS in self.kinds

    @property
    def in_hand(self) -> int:
        """The buyer's money held for the order: its reserves and what is owed back."""
        return sum(max(self.balances[account], 0) for account in HELD)

    def held(self, account: Account) -> int:
        return self.balances[account]

    def post(
        self,
        kind: Kind,
        to: Account,
        source: Account,
        amount: int,
        key: str,
        *,
        event: OrderEvent | None = None,
        item_id: int | None = None,
        quantity: int | None = None,
        memo: bool = False,
    ) -> None:
        """Move `amount` from `source` to `to`. Zero amounts are skipped, except a memo: a
        return's, which records the units returned so later returns of the line count them,
        and a free order's payment or credit, which marks it paid or credited."""
        if key in self.keys or (amount == 0 and not memo):
            return
        if amount < 0:
            raise ValueError(f"a posting moves a positive amount, not {amount}")
        entry = Entry(key, str(kind), amount, str(to), str(source), item_id, quantity)
        self.unsaved.append(
            entry._asdict()
            | {
                "shop_id": self.order.shop_id,
                "order_id": self.order.id,
                "event_id": event.id if event is not None else None,
                "currency": self.order.currency,
                "created_at": self.now,
            }
        )
        self._count(entry)

    def move_all(self, kind: Kind, source: Account, to: Account, event: OrderEvent | None):
        """Whatever the order still holds in `source`."""
        self.post(kind, to, source, max(self.balances[source], 0), self.key(kind), event=event)

    def key(self, kind: Kind) -> str:
        return f"order:{self.order.id}:{kind}"

    @property
    def amount_paid(self) -> int:
        """What the buyer paid for the order and has not been given back (refunds out)."""
        b = self.balances
        return -(b[Account.BUYER_PAYMENTS] + b[Account.AMOUNT_DUE] + b[Account.REFUNDS])

    @property
    def balance_due(self) -> int:
        """> 0 the buyer owes it; < 0 it is owed back to them."""
        return self.balances[Account.AMOUNT_DUE] - self.balances[Account.REFUND_DUE]

    async def save(self) -> None:
        """Write the entries posted since the book was read, and the order's `amount_paid`
        and `balance_due` as the ledger has them now. Every change that posts ends here.

        The totals go out in a plain UPDATE, not through the mapped object: they follow the
        money, they are not a change of the order, so the order's version (the one cards and
        concurrent edits check) stays as the change that caused them left it.
        """
        paid, due = self.amount_paid, self.balance_due
        order = self.order
        totals = {"of_order": order.id, "paid": paid, "due": due}
        changed = (order.amount_paid, order.balance_due) != (paid, due)
        unsaved, self.unsaved = self.unsaved, []
        if joins_writes(self.session):
            await self._hold(unsaved, changed)
        else:
            if unsaved:
                await direct.execute(self.session, _INSERT_ENTRIES, unsaved)
            if changed:
                await direct.execute(self.session, _STORE_TOTALS, totals)
        if changed:
            set_committed_value(order, "amount_paid", paid)
            set_committed_value(order, "balance_due", due)

    async def _hold(self, unsaved: list[dict], changed: bool) -> None:
        """PostgreSQL: the entries and totals held back to the transaction's last statement
        (storage.held), the totals in the order's held status change if there is one."""
        order_id = self.order.id
        status = held_status(self.session, order_id) if changed else None
        if status is not None:
            status.with_totals = True  # read off the order when sent: set by `save`
            changed = False
        if not unsaved and not changed:
            return
        statements: tuple[Executable, ...] = ()
        parameters: dict[str, Any] = {}
        if unsaved:
            statements += (_held_entries(tuple(unsaved[0]), len(unsaved)),)
            parameters |= numbered(unsaved, "l")
        if changed:
            statements += (_HELD_TOTALS,)
            parameters |= {
                "l_order": order_id,
                "l_paid": self.amount_paid,
                "l_due": self.balance_due,
            }
        along = Along(statements, parameters)
        # One ledger write held at a time (its parameters' names); with totals, it changes the
        # order's row: never held beside another change of it.
        keys = frozenset({"ledger", status_key(order_id)} if changed else {"ledger"})
        tables = _TOTALS_TABLES if changed else _ENTRIES_TABLES
        await held.hold(self.session, held.Write(keys, tables, lambda: along))


# Built once (their cache keys are memoized on them): every change with money effects runs
# them (issue 15). The totals as a Core UPDATE of the table: no ORM bookkeeping.
_ledger = LedgerEntry.__table__
_ENTRIES = (
    select(*(_ledger.c[name] for name in Entry._fields))
    .where(_ledger.c.order_id == bindparam("order_id"))
    .order_by(_ledger.c.id)
)
_INSERT_ENTRIES = insert(_ledger)
_orders = Order.__table__
_STORE_TOTALS = (
    update(_orders)
    .where(_orders.c.id == bindparam("of_order"))
    .values(amount_paid=bindparam("paid"), balance_due=bindparam("due"))
)


_HELD_TOTALS = (
    update(_orders)
    .where(_orders.c.id == bindparam("l_order"))
    .values(amount_paid=bindparam("l_paid"), balance_due=bindparam("l_due"))
)
_ENTRIES_TABLES = frozenset({"ledger_entries"})
_TOTALS_TABLES = frozenset({"ledger_entries", "orders"})


@cache
def _held_entries(columns: tuple[str, ...], count: int) -> Insert:
    """`count` entries' INSERT, the rows' parameters `l<i>_<column>` (held: storage.held)."""
    return insert(_ledger).values([numbered_row(_ledger, columns, i, "l") for i in range(count)])
