"""How many order transactions one process runs at once (issue 15: the loop's lag).

An order transaction is a few slices of Python between database round trips. During a
burst of taps (up to TELEGRAM_MAX_IN_FLIGHT updates at once, each mostly waiting on
Telegram) up to the pool's twenty transactions ran side by side on PostgreSQL, and every
turn of the event loop ran a slice of each: the loop late by 30-41 ms at p99, which every
other tap, timer and storefront request on the loop waited. Transactions beyond the limit
wait here, before they take a connection: with eight the lag was 14-22 ms, for 10-15%
fewer taps a second (bench/RESULTS.md, nineteenth round). A far database (a few ms a round
trip) wants more. The updates' Telegram calls are not bounded by this: they run outside
the transaction.

A transaction started inside another in the same task (or a task it started) passes: its
outer one holds a place already, and waiting for a second could wait for itself. One that
waits longer than `wait_seconds` (a database that stopped answering) is refused as busy, as
a transaction that keeps losing races is: the person is told to try again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from services.places import take_place
from services.refusals import OrderRefused, Problem

WAIT_SECONDS = 30.0  # as long as SQLAlchemy's pool lets a transaction wait for a connection


class InFlight:
    """Places for `limit` order transactions at once (None: no limit)."""

    def __init__(self, limit: int | None, wait_seconds: float = WAIT_SECONDS) -> None:
        if limit is not None and limit < 1:
            raise ValueError("at least one order transaction must be let in")
        self.limit = limit
        self.wait_seconds = wait_seconds
        self._places = asyncio.Semaphore(limit) if limit else None
        # True while this context holds a place, so a nested transaction passes.
        self._holding: ContextVar[bool] = ContextVar(f"order_in_flight_{id(self)}", default=False)

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        places = self._places
        if places is None or self._holding.get():
            yield
            return
        if not await take_place(places, self.wait_seconds):
            raise OrderRefused(Problem.BUSY, "too many orders are being changed at once; try again")
        holding = self._holding.set(True)
        try:
            yield
        finally:
            self._holding.reset(holding)
            places.release()
