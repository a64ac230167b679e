"""The sweep: fires every timer that is due, each through the order service (B1-B3).

Timers are rows (DESIGN "Time"); APScheduler only calls `run_once` every few seconds. A
sweep claims a batch of due timers for a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two instances take different rows), then fires each in its own transaction, in which the
timer is marked done only if it still is pending: whichever instance gets there first fires
it, the other finds it done. What fell due while the bot was down is due now, so the first
sweep after a start applies it, once; its audit event keeps the time it was due.

A timer whose firing raises (a bug, a database outage) is retried with backoff and, after
MAX_ATTEMPTS, left `failed` with its error for an operator rather than retried forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.service import OrderService
from services.orders.timed import GONE, PENDING
from services.refusals import OrderRefused, Problem
from services.time.clock import Clock
from storage.models import Timer

log = logging.getLogger(__name__)

BATCH = 200
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RELEASE_DELAY = timedelta(seconds=30)  # a timer whose order stayed busy waits this long
FAILED = "failed"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 minutes... before a timer that raised is tried again."""
    return timedelta(minutes=2 ** max(attempts - 1, 0))


@dataclass
class SweepReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    @property
    def fired(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome != GONE)


class TimerSweep:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        orders: OrderService,
        *,
        batch: int = BATCH,
        lease: timedelta = LEASE,
        workers: int | None = None,
    ):
        self._sessions = sessions
        self._clock = clock
        self._orders = orders
        self._batch = batch
        self._lease = lease
        # SQLite has one writer at a time: firing in parallel would only queue on its lock.
        dialect = sessions.kw["bind"].dialect.name
        self._workers = workers or (4 if dialect == "postgresql" else 1)

    async def run_once(self) -> SweepReport:
        """Fire everything due by now, batch after batch, until nothing due is left.

        "Now" is read once: what falls due while this sweep runs waits for the next one,
        so a sweep always ends.
        """
        now = self._clock.now()
        report = SweepReport()
        slots = asyncio.Semaphore(self._workers)

        async def fire(timers: list[tuple[int, int]]) -> None:
            async with slots:
                for timer_id, order_id in timers:
                    await self._fire(timer_id, order_id, report)

        while claimed := await self._claim(now):
            await asyncio.gather(*(fire(timer_ids) for timer_ids in claimed))
        if report.fired or report.errors:
            log.info("timers fired: %s; errors: %s", dict(report.outcomes), report.errors)
        return report

    async def _claim(self, now: datetime) -> list[list[tuple[int, int]]]:
        """Take up to a batch of due timers no other sweep holds, oldest first; grouped by
        order, each group in due order. Orders fire in parallel, one order's timers one
        after another: a payment reminder must not race the deadline that cancels it."""
        due = (
            select(Timer.id)
            .where(
                Timer.state == PENDING,
                Timer.due_at <= now,
                or_(Timer.claimed_until.is_(None), Timer.claimed_until <= self._clock.now()),
            )
            .order_by(Timer.due_at, Timer.id)
            # A literal, not a parameter: PostgreSQL's generic plan for a prepared statement
            # guesses a parameter's LIMIT and may then scan every timer instead of the index.
            .limit(literal_column(str(int(self._batch))))
            .with_for_update(skip_locked=True)
        )
        async with self._sessions() as session, session.begin():
            rows = await session.execute(
                update(Timer)
                .where(Timer.id.in_(due.scalar_subquery()))
                .values(claimed_until=self._clock.now() + self._lease)
                .returning(Timer.id, Timer.order_id, Timer.due_at)
                .execution_options(synchronize_session=False)
            )
            by_order: dict[int, list[tuple[int, int]]] = {}
            for row in sorted(rows, key=lambda row: (row.due_at, row.id)):
                by_order.setdefault(row.order_id, []).append((row.id, row.order_id))
            return list(by_order.values())

    async def _fire(self, timer_id: int, order_id: int, report: SweepReport) -> None:
        try:
            report.outcomes[await self._orders.fire_timer(timer_id, order_id)] += 1
        except OrderRefused as refusal:
            if refusal.code != Problem.BUSY:
                report.errors += 1
                await self._failed(timer_id, refusal)
                return
            # The order kept changing under us: a later sweep tries again.
            log.warning("timer %s not fired: %s", timer_id, refusal)
            await self._release(timer_id)
        except Exception as error:  # a bug or an outage: recorded, retried later, then left
            log.exception("timer %s failed", timer_id)
            report.errors += 1
            await self._failed(timer_id, error)

    async def _release(self, timer_id: int) -> None:
        """Try again a little later: not in this sweep, which would claim it straight back."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Timer)
                .where(Timer.id == timer_id, Timer.state == PENDING)
                .values(claimed_until=self._clock.now() + RELEASE_DELAY)
            )

    async def _failed(self, timer_id: int, error: Exception) -> None:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            timer = await session.get(Timer, timer_id, with_for_update=True)
            if timer is None or timer.state != PENDING:
                return
            timer.attempts += 1
            timer.last_error = f"{type(error).__name__}: {error}"[:2000]
            if timer.attempts >= MAX_ATTEMPTS:
                timer.state, timer.finished_at, timer.outcome = FAILED, now, FAILED
                log.error("timer %s gave up after %s attempts", timer_id, timer.attempts)
            else:
                timer.claimed_until = now + backoff(timer.attempts)
