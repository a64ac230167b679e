"""A status change written by statements built once, not by the session's flush.

Every button tap, link, storefront call and due timer that moves an order ends in
`write_decision`, which used to write the order's row and its audit events through the
ORM's unit of work: each flush sorts the session's objects, diffs their attributes, builds
the UPDATE and INSERT and keys them again (issue 15: the flush and the events' objects
were a quarter of an `apply`). Here the order's status columns go out in one prebuilt
`UPDATE ... WHERE version = :old`, the events by one prebuilt `INSERT ... RETURNING id`
(on SQLite one per event: it does not promise RETURNING's rows in the VALUES' order, so
SQLAlchemy sends them one by one), and the ORM is told the new values are what the
database holds. On PostgreSQL the two are one statement (the UPDATE a data-modifying CTE
the events' INSERT joins): a round trip fewer on every change (issue 15).

The version check stays what it was: an UPDATE that finds another version raises
`StaleDataError`, and the order's work runs again from scratch (services.orders.work).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Insert,
    Integer,
    bindparam,
    column,
    insert,
    inspect,
    literal,
    select,
    true,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import Update

from services.orders.events import EVENT_COLUMNS, event_row
from services.orders.unit import Unit
from storage import direct, held
from storage.models import Order, OrderEvent
from storage.statements import Along, joins_writes, numbered, numbered_row

# What a status change writes on the order (services.orders.decisions, services.time.sla).
STATUS_COLUMNS = (
    "status",
    "status_changed_at",
    "updated_at",
    "last_action",
    "track_code",
    "carrier",
    "problem",
    "problem_reason",
    "sla_excellent_at",
    "sla_deadline_at",
)
_WRITABLE = frozenset(STATUS_COLUMNS)

_orders = Order.__table__
# Parameters are named apart from the columns: SQLAlchemy keeps a column's own name for the
# SET clause it would build itself.
_UPDATE = (
    update(_orders)
    .where(_orders.c.id == bindparam("order_id"), _orders.c.version == bindparam("old_version"))
    .values(
        {name: bindparam(f"new_{name}") for name in STATUS_COLUMNS}
        | {"version": bindparam("new_version")}
    )
)

_events = OrderEvent.__table__
# Several steps (a chained automatic transition) insert several rows in one statement; the
# ids come back in the rows' order.
_INSERT_EVENTS = insert(_events).returning(_events.c.id, sort_by_parameter_order=True)
_INSERT_EVENT = insert(_events)


@cache
def _changed_with_events(count: int) -> Insert:
    """PostgreSQL: `WITH changed AS (UPDATE orders ... RETURNING id) INSERT INTO
    order_events ... SELECT ... FROM (VALUES ...) JOIN changed ... RETURNING id`, for
    `count` events: an order found at another version updates no row, so no event is
    inserted and no id comes back. The rows go in by their ordinal (ORDER BY), so the
    sequence gives them ascending ids in the events' order (as SQLAlchemy's own ordered
    RETURNING for PostgreSQL relies on). Parameters: the UPDATE's, and the events'
    `numbered`."""
    changed = _UPDATE.returning(_orders.c.id).cte("changed")
    typed = [column(name, _events.c[name].type) for name in EVENT_COLUMNS]
    rows = values(*typed, column("ordinal", Integer), name="new_events").data(
        [
            (*numbered_row(_events, EVENT_COLUMNS, i).values(), literal(i, Integer))
            for i in range(count)
        ]
    )
    chosen = (
        select(*(rows.c[name] for name in EVENT_COLUMNS))
        .select_from(rows.join(changed, true()))
        .order_by(rows.c.ordinal)
    )
    return insert(_events).from_select(list(EVENT_COLUMNS), chosen).returning(_events.c.id)


def status_key(order_id: int) -> str:
    """What a held change of an order writes: its row (one of storage.held's keys)."""
    return f"order:{order_id}"


@dataclass
class HeldStatus:
    """A status change held back (PostgreSQL): the order's UPDATE and its events' INSERT,
    their ids taken already. The ledger's totals, when a posting of the same change comes
    before it is sent, ride in the same UPDATE (`with_totals`; read off the order when
    sent): one statement may not update a row twice."""

    order: Order
    parameters: dict[str, Any]
    rows: list[dict[str, Any]]
    with_totals: bool = False

    def write(self) -> held.Write:
        # Keyed by the order's row, and by its parameters' names (one such write at a time).
        keys = frozenset({status_key(self.order.id), "status"})
        return held.Write(keys, _HELD_TABLES, self.along, self)

    def along(self) -> Along:
        parameters = {f"s_{name}": value for name, value in self.parameters.items()}
        if self.with_totals:
            parameters |= {"s_paid": self.order.amount_paid, "s_due": self.order.balance_due}
        return Along(
            (_held_events(len(self.rows), self.with_totals),),
            parameters | numbered(self.rows, "e"),
        )


def held_status(session: AsyncSession, order_id: int) -> HeldStatus | None:
    """The order's status change if it is held back still (the ledger's totals may join
    it: `HeldStatus.with_totals`)."""
    write = held.find(session, status_key(order_id))
    return write.source if write is not None else None


_HELD_TABLES = frozenset({"orders", "order_events"})


@cache
def _held_update(with_totals: bool) -> Update:
    """`_UPDATE` with its parameters named `s_...` (to ride with other writes), and with
    the ledger's totals."""
    assigned = {name: bindparam(f"s_new_{name}") for name in STATUS_COLUMNS}
    assigned |= {"version": bindparam("s_new_version")}
    if with_totals:
        assigned |= {"amount_paid": bindparam("s_paid"), "balance_due": bindparam("s_due")}
    return (
        update(_orders)
        .where(
            _orders.c.id == bindparam("s_order_id"),
            _orders.c.version == bindparam("s_old_version"),
        )
        .values(assigned)
    )


@cache
def _held_events(count: int, with_totals: bool) -> Insert:
    """`count` events' INSERT, their ids given (rows `e<i>_<column>`), with the order's
    UPDATE as its CTE (`changed`), from which the events take their `order_id`: were the
    order at another version than the one read (it cannot be: it was read locked), the
    events' NOT NULL `order_id` would fail the whole statement, never lose the change
    quietly."""
    changed = _held_update(with_totals).returning(_orders.c.id).cte("changed")
    order_id = select(changed.c.id).scalar_subquery()
    columns = ("id", *EVENT_COLUMNS)
    rows = [numbered_row(_events, columns, i, "e") | {"order_id": order_id} for i in range(count)]
    return insert(_events).values(rows)


async def write_status(unit: Unit, order: Order, events: Sequence[OrderEvent]) -> None:
    """Write the order's new status (set on it already) and its audit events (made by
    `services.orders.events.record`, not added to the session): the events get their ids.

    On PostgreSQL, for an order this transaction loaded locked (no one else can change it
    before the commit, so the version check cannot fail), with ids taken for its events: the
    write is held back to the transaction's last statement (storage.held).

    An order the session must write otherwise (new, or changed beyond its status columns,
    an edit's goods say) is flushed by the ORM as before, its events with it."""
    state = inspect(order)
    if not state.persistent or not _WRITABLE.issuperset(state.committed_state):
        unit.session.add_all(events)
        await unit.session.flush()
        return
    new_version = order.version + 1
    parameters = {f"new_{name}": getattr(order, name) for name in STATUS_COLUMNS}
    parameters |= {"order_id": order.id, "old_version": order.version, "new_version": new_version}
    rows = [event_row(event) for event in events]
    ids = unit.take_event_ids(order.id, len(rows)) if events else None
    if ids is not None:
        for row, event_id in zip(rows, ids, strict=True):
            row["id"] = event_id
        await held.hold(unit.session, HeldStatus(order, parameters, rows).write())
    elif events and joins_writes(unit.session):
        parameters |= numbered(rows)
        returned = await direct.rows(unit.session, _changed_with_events(len(rows)), parameters)
        if not returned:
            raise StaleDataError(f"order {order.id} changed since version {order.version}")
        ids: Sequence[int] | None = sorted(row[0] for row in returned)
    else:
        updated = await direct.execute(unit.session, _UPDATE, parameters)
        if updated.rowcount != 1:
            raise StaleDataError(f"order {order.id} changed since version {order.version}")
        ids = None
    # What the row holds now, and nothing left to write: the order was changed in its status
    # columns only (checked above) and they are written. Marked clean, as a flush leaves an
    # object, in one call (`set_committed_value` per column was 5% of an `apply`). Left
    # "modified", the next statement's autoflush would run the whole unit of work over the
    # order to find nothing to write (a third of a millisecond, every change: issue 15).
    state.dict["version"] = new_version
    state._commit_all(state.dict, unit.session.sync_session.identity_map)
    if ids is None:
        ids = await direct.inserted_ids(unit.session, _INSERT_EVENT, rows)
    if ids is None:
        ids = (await unit.session.execute(_INSERT_EVENTS, rows)).scalars().all()
    for event, event_id in zip(events, ids, strict=True):
        set_committed_value(event, "id", event_id)
