"""The numbers (K1): orders and revenue per day, the average check, cancellations by reason,
time-limit compliance per status and per person, and the return rate, for 7, 30 or 90 days.

Read from what the order service already records: the orders, their audit events (a
status left is an event with `from_status`; a limit passed is an `sla_expired` event naming
the status) and the return requests. Days are the shop's days, in its time zone. Revenue is
for those who see the shop's balance (owner, admins, accountants), as /balance is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.desk.scope import DeskShop, desk_shops
from services.money.ledger.balance import BALANCE_ROLES
from services.orders.events import OrderEvents
from services.refusals import Reason, Refused, invalid
from services.time.clock import Clock
from services.workflow.definition import StatusKind
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Order, OrderEvent, ReturnRequest, User

PERIODS = (7, 30, 90)


@dataclass(frozen=True)
class Day:
    day: date
    orders: int  # placed that day
    revenue: int  # their totals, cancelled ones left out (minor units)


@dataclass(frozen=True)
class Share:
    """A count under a name: a cancellation reason, a status, a person."""

    key: str
    title: Mapping[str, str] | str
    on_time: int = 0
    late: int = 0
    count: int = 0

    @property
    def compliance(self) -> float | None:
        done = self.on_time + self.late
        return self.on_time / done if done else None


@dataclass(frozen=True)
class Numbers:
    shop: DeskShop
    period: int
    currency: str
    days: list[Day]
    orders: int
    revenue: int
    average_check: int | None
    cancellations: list[Share]
    by_status: list[Share]
    by_person: list[Share]
    returns: int
    received: int

    @property
    def return_rate(self) -> float | None:
        return self.returns / self.received if self.received else None

    @property
    def busiest(self) -> int:
        return max((d.orders for d in self.days), default=0)

    @property
    def best_revenue(self) -> int:
        return max((d.revenue for d in self.days), default=0)


class DeskNumbers:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, workflows: WorkflowStore
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows

    async def numbers(self, user_id: int, shop_id: int | None, period: int) -> Numbers:
        if period not in PERIODS:
            raise invalid("days", "7, 30 or 90 days")
        async with reading(self._sessions) as session:
            shop = (await desk_shops(session, self._workflows, user_id, shop_id))[0]
            if not shop.roles & BALANCE_ROLES:  # revenue is the money's people's, as /balance
                raise Refused(
                    Reason.FORBIDDEN, "the numbers are for the owner, admins, accountants"
                )
            zone = ZoneInfo(shop.shop.timezone)
            today = self._clock.now().astimezone(zone).date()
            first = today - timedelta(days=period - 1)
            start = datetime.combine(first, time(), zone)
            placed = list(
                await session.execute(
                    select(Order.created_at, Order.total, Order.status, Order.workflow_id).where(
                        Order.shop_id == shop.id, Order.created_at >= start
                    )
                )
            )
            events = list(
                await session.execute(
                    select(
                        OrderEvent.order_id,
                        OrderEvent.created_at,
                        OrderEvent.action,
                        OrderEvent.from_status,
                        OrderEvent.to_status,
                        OrderEvent.payload,
                        OrderEvent.actor_user_id,
                        Order.workflow_id,
                    )
                    .join(Order, Order.id == OrderEvent.order_id)
                    .where(Order.shop_id == shop.id, OrderEvent.created_at >= start)
                    .order_by(OrderEvent.id)
                )
            )
            returns = await session.scalar(
                select(func.count())
                .select_from(ReturnRequest)
                .where(ReturnRequest.shop_id == shop.id, ReturnRequest.created_at >= start)
            )
            people = {e.actor_user_id for e in events if e.actor_user_id is not None}
            names = {}
            if people:
                found = await session.execute(select(User.id, User.name).where(User.id.in_(people)))
                names = {row.id: row.name for row in found}
        return _count(shop, period, first, zone, placed, events, returns or 0, names)


def _count(shop, period, first, zone, placed, events, returns, names) -> Numbers:
    def kind(workflow_id: int, status: str | None) -> StatusKind | None:
        found = shop.status_of(workflow_id, status) if status else None
        return found.kind if found else None

    orders_by_day: Counter = Counter()
    revenue_by_day: Counter = Counter()
    kept = revenue = 0
    for row in placed:
        day = row.created_at.astimezone(zone).date()
        orders_by_day[day] += 1
        if kind(row.workflow_id, row.status) is not StatusKind.FINAL_FAILURE:
            revenue_by_day[day] += row.total
            revenue += row.total
            kept += 1
    days = [
        Day(
            first + timedelta(days=n),
            *_day(first + timedelta(days=n), orders_by_day, revenue_by_day),
        )
        for n in range(period)
    ]
    reasons: Counter = Counter()
    expired: set[tuple[int, str]] = set()
    for event in events:
        if event.action == OrderEvents.SLA_EXPIRED:
            expired.add((event.order_id, (event.payload or {}).get("status", "")))
    by_status: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_person: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    received = 0
    for event in events:
        target = kind(event.workflow_id, event.to_status)
        if target is StatusKind.FINAL_FAILURE:
            inputs = (event.payload or {}).get("inputs") or {}
            reasons[str(inputs.get("reason") or event.action)] += 1
        if target is StatusKind.FINAL_SUCCESS:
            received += 1
        left = shop.status_of(event.workflow_id, event.from_status) if event.from_status else None
        if left is None or left.sla is None or (event.payload or {}).get("automatic"):
            continue
        late = (event.order_id, left.code) in expired
        by_status[left.code][late] += 1
        if event.actor_user_id is not None:
            by_person[event.actor_user_id][late] += 1
    workflow = shop.current
    cancellations = [
        Share(code, (workflow.reason(code).title if workflow.reason(code) else code), count=n)
        for code, n in reasons.most_common()
    ]
    statuses = [
        Share(code, _status_title(shop, code), on_time=counts[0], late=counts[1])
        for code, counts in by_status.items()
    ]
    persons = [
        Share(str(user_id), names.get(user_id) or f"#{user_id}", on_time=c[0], late=c[1])
        for user_id, c in sorted(by_person.items(), key=lambda item: -sum(item[1]))
    ]
    return Numbers(
        shop=shop,
        period=period,
        currency=shop.shop.currency,
        days=days,
        orders=sum(orders_by_day.values()),
        revenue=revenue,
        average_check=revenue // kept if kept else None,
        cancellations=cancellations,
        by_status=statuses,
        by_person=persons,
        returns=returns,
        received=received,
    )


def _day(day: date, orders: Counter, revenue: Counter) -> tuple[int, int]:
    return orders.get(day, 0), revenue.get(day, 0)


def _status_title(shop: DeskShop, code: str) -> Mapping[str, str] | str:
    try:
        return shop.current.status(code).title
    except KeyError:
        return code
