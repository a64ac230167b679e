"""One transaction of work on an order: the order service's changes and those beside the
status machine (returns, reviews).

The same working set as the order service's own changes (services.orders.unit.Unit): the
order is loaded and locked first, the audit events and the outbox rows are written with the
change, and a lost race or a busy database runs the work again from scratch.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from services.messaging.notifications.outbox import Outbox
from services.orders.in_flight import InFlight
from services.orders.numbers import OrderNumbers
from services.orders.unit import Unit
from services.refusals import OrderRefused, Problem
from services.time.clock import Clock
from services.workflow.store import WorkflowStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
T = TypeVar("T")


class OrderWork:
    """Runs `work(unit)` in one transaction, again if it lost a race."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        workflows: WorkflowStore,
        numbers: OrderNumbers | None = None,
        max_in_flight: int | None = None,
    ):
        self.sessions = sessions
        self.clock = clock
        self.workflows = workflows
        self.numbers = numbers  # None: new orders' numbers in their own transaction
        # None: no bound (benches and tests that run one change at a time)
        self.in_flight = InFlight(max_in_flight)

    def unit(self, session: AsyncSession) -> Unit:
        now = self.clock.now()
        return Unit(session, now, Outbox(now), self.workflows, numbers=self.numbers)

    async def run(self, work: Callable[[Unit], Awaitable[T]]) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self.in_flight.place(), self.sessions() as session, session.begin():
                    unit = self.unit(session)
                    result = await work(unit)
                    await unit.finish()
                for committed in unit.after_commit:
                    committed()
                return result
            except StaleDataError:
                log.info("order changed concurrently; attempt %s of %s", attempt, MAX_ATTEMPTS)
            except OperationalError as error:
                text = str(error.orig).lower()
                if not any(s in text for s in ("database is locked", "deadlock", "serialize")):
                    raise
                log.warning("database busy; attempt %s of %s: %s", attempt, MAX_ATTEMPTS, error)
        raise OrderRefused(Problem.BUSY, "the order is being changed by someone else; try again")
