"""APScheduler runs the timer sweep every few seconds; the timers themselves are rows.

One interval job for all timers (DESIGN "Time": never a job per order). It runs once at
start, so what fell due while the bot was down is applied right away; `coalesce` and
`max_instances=1` keep a slow sweep from piling up behind itself, and several instances may
sweep at once because the sweep claims its rows (services/time/sweep.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.container import Container
from services.deliveries.sweep import TrackingSweep
from services.time.sweep import TimerSweep

log = logging.getLogger(__name__)

JOB_ID = "timer_sweep"
RETENTION_JOB_ID = "personal_data_retention"
TRACKING_JOB_ID = "tracking_sweep"
RETENTION_EVERY_HOURS = 24


def build_sweep(container: Container) -> TimerSweep:
    return TimerSweep(container.sessions, container.clock, container.orders)


def build_scheduler(sweep: TimerSweep, every_seconds: float) -> AsyncIOScheduler:
    """Not started: call `start()` inside the running event loop."""
    scheduler = AsyncIOScheduler(timezone=UTC)

    async def sweep_once() -> None:
        try:
            await sweep.run_once()
        except Exception:  # the database away for a moment: the next run tries again
            log.exception("the timer sweep failed")

    scheduler.add_job(
        sweep_once,
        "interval",
        seconds=every_seconds,
        id=JOB_ID,
        next_run_time=datetime.now(UTC),  # at start: whatever fell due during downtime
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler


def add_retention_job(scheduler: AsyncIOScheduler, container: Container) -> None:
    """Once a day (and an hour after start): closed orders past their shop's retention
    period lose their buyer's personal data (services/operations/personal_data.py)."""

    async def erase_expired() -> None:
        try:
            erased = await container.personal_data.erase_expired()
        except Exception:  # the next day tries again; nothing is half done (one transaction)
            log.exception("erasing expired personal data failed")
            return
        if erased:
            log.info("personal data of %d closed order(s) erased (retention period)", erased)

    scheduler.add_job(
        erase_expired,
        "interval",
        hours=RETENTION_EVERY_HOURS,
        id=RETENTION_JOB_ID,
        next_run_time=datetime.now(UTC) + timedelta(hours=1),  # not in the start-up rush
        coalesce=True,
        max_instances=1,
    )


def build_tracking(container: Container) -> TrackingSweep:
    return TrackingSweep(
        container.sessions,
        container.clock,
        container.orders,
        container.carrier_accounts,
        container.carriers,
        container.workflows,
        stall_days=container.settings.carrier_stall_days,
    )


def add_tracking_job(scheduler: AsyncIOScheduler, tracking: TrackingSweep, seconds: float) -> None:
    """The parcels due for a question at their carriers (services/deliveries/sweep.py): one
    job for all of them, as for timers; each parcel's own pace is in its row."""

    async def track_once() -> None:
        try:
            await tracking.run_once()
        except Exception:  # the database away for a moment: the next run tries again
            log.exception("the tracking sweep failed")

    scheduler.add_job(
        track_once,
        "interval",
        seconds=seconds,
        id=TRACKING_JOB_ID,
        next_run_time=datetime.now(UTC) + timedelta(seconds=seconds),  # not in the start rush
        coalesce=True,
        max_instances=1,
    )
