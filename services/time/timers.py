"""Timer rows of an order: set on entering a status, cancelled on leaving it (DESIGN "Time").

The sweep that fires them belongs to the scheduler; here is only their bookkeeping, done in
the transaction of the change that enters or leaves the status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Executable, Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.time.business_hours import business_calendar
from services.workflow.definition import Workflow
from services.workflow.engine import TimerPlan
from storage import direct, held
from storage.models import Order, Shop, Timer
from storage.statements import Along, joins_writes, numbered, numbered_row

PENDING = "pending"
CANCELLED = "cancelled"


async def schedule(
    session: AsyncSession,
    order_id: int,
    status: str,
    plans: tuple[TimerPlan, ...],
    now: datetime,
    shop: Shop | None = None,
) -> None:
    """Rows for the timers of the status the order entered; a timer counted in business
    hours is due when the shop's working time has run (needs `shop`)."""
    await change(
        session, order_id, now, cancel=False, rows=rows_for(order_id, status, plans, now, shop)
    )


def rows_for(
    order_id: int,
    status: str,
    plans: tuple[TimerPlan, ...],
    now: datetime,
    shop: Shop | None = None,
) -> list[dict[str, Any]]:
    """The timer rows of the status the order entered (see `schedule`), not yet written."""
    hours = (
        business_calendar(shop)
        if shop is not None and any(plan.business_after for plan in plans)
        else None
    )

    def due(plan: TimerPlan) -> datetime:
        if plan.business_after is None or hours is None:
            return plan.due_at
        return hours.add(plan.due_at - plan.business_after, plan.business_after)

    rows = []
    for plan in plans:
        payload = {"to": str(plan.to), "message": plan.message} if plan.to else {}
        rows.append(
            row(order_id, plan.code, str(plan.kind), status, plan.action, due(plan), now, payload)
        )
    return rows


def row(
    order_id: int,
    code: str,
    kind: str,
    status: str,
    action: str | None,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """A pending timer's row, as `change` writes it."""
    return {
        "order_id": order_id,
        "code": code,
        "kind": kind,
        "status": status,
        "action": action,
        "due_at": due_at,
        "state": PENDING,
        "payload": payload,
        "created_at": now,
        "attempts": 0,
    }


async def change(
    session: AsyncSession,
    order_id: int,
    now: datetime,
    *,
    cancel: bool,
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """The order's timers as a change of status leaves them: what was pending cancelled
    (when `cancel`: see `cancel_pending`), then `rows` added (made by `rows_for` or `row`).

    On PostgreSQL both are one statement when both are needed, the UPDATE a CTE of the
    INSERT: a round trip fewer on every change that leaves a status with timers for another
    (issue 15). The UPDATE sees the table as it was before the statement, so the rows added
    stay pending, as when it ran first."""
    planned = plan(session, order_id, now, cancel=cancel, rows=rows)
    if planned is not None:
        await write(session, planned)


@dataclass(frozen=True)
class Change:
    """A change of an order's timers, planned: cancel what is pending, add `rows`."""

    order_id: int
    now: datetime
    cancel: bool
    rows: tuple[Mapping[str, Any], ...]

    @property
    def cancelling(self) -> dict[str, Any]:
        """The cancelling UPDATE's parameters (`_CANCEL_PENDING`)."""
        return {"of_order": self.order_id, "cancelled_at": self.now}

    def along(self) -> Along:
        """The change as data-modifying CTEs of another statement (PostgreSQL): the
        cancelling UPDATE and the INSERT of the rows (theirs are named `t<i>_<column>`)."""
        statements: tuple[Executable, ...] = ()
        parameters: dict[str, Any] = {}
        if self.cancel:
            statements += (_CANCEL_PENDING,)
            parameters |= self.cancelling
        if self.rows:
            statements += (_added(tuple(self.rows[0]), len(self.rows)),)
            parameters |= numbered(self.rows, _ROWS)
        return Along(statements, parameters)


def plan(
    session: AsyncSession,
    order_id: int,
    now: datetime,
    *,
    cancel: bool,
    rows: Sequence[Mapping[str, Any]],
) -> Change | None:
    """The change `change` would write (None: nothing to write); the transaction's
    knowledge of the order's pending timers is brought up to date as if it were written."""
    if cancel and _known_none(session, order_id):
        cancel = False
    if rows:
        pending_again(session, order_id)
    if not cancel and not rows:
        return None
    return Change(order_id, now, cancel, tuple(rows))


async def write(session: AsyncSession, planned: Change) -> None:
    """Write a planned change now."""
    rows = planned.rows
    if planned.cancel and rows and joins_writes(session):
        both = _cancelled_then_added(tuple(rows[0]), len(rows))
        await direct.execute(session, both, planned.cancelling | numbered(rows))
        return
    if planned.cancel:
        await direct.execute(session, _CANCEL_PENDING, planned.cancelling)
    if rows:
        await direct.execute(session, _INSERT, list(rows))


# -- a change held back to ride on the transaction's last statement (PostgreSQL) ------------
#
# A status change's timers are written by nothing else in its transaction and read by
# nothing after it (the sweep, the returns' answer limits and the operators' list read them
# in transactions of their own). So on PostgreSQL the change is held back (storage.held) and
# sent as CTEs of the transaction's last statement: a round trip fewer for every status
# change with timers (issue 15). Anything that reads or writes timers afterwards sends it
# first (storage.held says how), and a second change of them sends the first. The sweep's
# record of a fired timer's outcome (services.orders.timed) is such a write.


async def hold(session: AsyncSession, planned: Change) -> None:
    """Keep `planned` back to go with the transaction's last statement."""
    await held.hold(session, held.Write(_TABLES, _TABLES, planned.along))


_TABLES = frozenset({"timers"})
_ROWS = "t"  # the held change's rows' parameter prefix


def may_have_pending(workflow: Workflow, status: str) -> bool:
    """Whether an order in `status` can have pending timers: only a status with timers does.

    Timers (and the deadline of a time limit) are set for the status an order ends a change
    in and cancelled when it leaves it; automatic steps pass through statuses without
    setting any. So a status without either has none pending, and leaving it needs no
    cancelling.
    """
    return bool(workflow.timers_for(status)) or workflow.status(status).sla is not None


async def cancel_pending(session: AsyncSession, order_id: int, now: datetime) -> None:
    """Leaving a status cancels what was due in it (nothing, when this transaction knows
    that none is pending: see `none_pending`)."""
    await change(session, order_id, now, cancel=True, rows=())


def _known_none(session: AsyncSession, order_id: int) -> bool:
    """Whether this transaction knows the order has no pending timer; that knowledge is
    used up (the change about to be written may add some)."""
    known = session.info.get(_NONE_PENDING)
    if known is not None and order_id in known:
        known.discard(order_id)
        return True
    return False


def none_pending(session: AsyncSession, order_id: int) -> None:
    """This transaction holds the order (locked) and knows it has no pending timer: a timer's
    fire took the last one (services.orders.timed). The transition it applies then has
    nothing to cancel; the next `cancel_pending` of the order skips its UPDATE (issue 15)."""
    session.info.setdefault(_NONE_PENDING, set()).add(order_id)


def pending_again(session: AsyncSession, order_id: int) -> None:
    """Timers were added to the order in this transaction: `none_pending` no longer holds.
    Called by everything here that schedules timers."""
    known = session.info.get(_NONE_PENDING)
    if known is not None:
        known.discard(order_id)


# session.info key: the orders this transaction knows to have no pending timer.
_NONE_PENDING = "shopbot.timers.none_pending"


# Built once: the statement's cache key is memoized on it (issue 15: this runs in every
# change that leaves a status with timers). A Core UPDATE of the table: no ORM bookkeeping.
_timers = Timer.__table__
_CANCEL_PENDING = (
    update(_timers)
    .where(_timers.c.order_id == bindparam("of_order"), _timers.c.state == PENDING)
    .values(state=CANCELLED, finished_at=bindparam("cancelled_at"))
)


async def copy_pending(session: AsyncSession, from_id: int, to_id: int, now: datetime) -> None:
    """A split-off order keeps the clock of the order it came from."""
    pending = list(
        await session.scalars(
            select(Timer).where(Timer.order_id == from_id, Timer.state == PENDING)
        )
    )
    copies = [
        row(to_id, t.code, t.kind, t.status, t.action, t.due_at, now, dict(t.payload))
        for t in pending
    ]
    await change(session, to_id, now, cancel=False, rows=copies)


@dataclass(frozen=True)
class DueTimer:
    """A pending timer as an operator sees it (`python -m bot timers due`)."""

    due_at: datetime
    shop_id: int
    shop_name: str
    shop_timezone: str
    order_number: int
    status: str
    kind: str
    code: str
    action: str | None
    attempts: int


async def due_by(
    session: AsyncSession, until: datetime, shop_id: int | None = None, limit: int = 1000
) -> list[DueTimer]:
    """The pending timers due by `until`, soonest first (through ix_timers_due)."""
    query = (
        select(Timer, Order.number, Shop.id, Shop.name, Shop.timezone)
        .join(Order, Order.id == Timer.order_id)
        .join(Shop, Shop.id == Order.shop_id)
        .where(Timer.state == PENDING, Timer.due_at <= until)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    if shop_id is not None:
        query = query.where(Shop.id == shop_id)
    return [
        DueTimer(
            due_at=timer.due_at,
            shop_id=shop,
            shop_name=name,
            shop_timezone=timezone,
            order_number=number,
            status=timer.status,
            kind=timer.kind,
            code=timer.code,
            action=timer.action or timer.payload.get("message"),
            attempts=timer.attempts,
        )
        for timer, number, shop, name, timezone in await session.execute(query)
    ]


_INSERT = insert(_timers)


@cache
def _added(columns: tuple[str, ...], count: int) -> Insert:
    """`INSERT INTO timers VALUES <count rows>`, the rows' parameters `t<i>_<column>`."""
    return insert(_timers).values([numbered_row(_timers, columns, i, _ROWS) for i in range(count)])


@cache
def _cancelled_then_added(columns: tuple[str, ...], count: int) -> Insert:
    """PostgreSQL: `WITH cancelled AS (UPDATE timers ... pending of the order) INSERT INTO
    timers VALUES <count rows>`; the rows' parameters `numbered`."""
    rows = [numbered_row(_timers, columns, i) for i in range(count)]
    return insert(_timers).values(rows).add_cte(_CANCEL_PENDING.cte("cancelled"))
