"""How many storefront API requests one process works on at once (issue 15: the loop's lag).

A request is a few slices of Python between database round trips. With 32 requests in
flight, every turn of the event loop ran a slice of each of them, 10-40 ms in all, and
everything else on the loop (a staff member's tap, a due timer, the Telegram poll, a
storefront's next request) waited that long. Requests beyond the limit wait here, parked
before anything of theirs runs: a turn then holds a few slices, and the requests in flight
finish sooner, so a burst is served as fast as before (bench/RESULTS.md, seventeenth round:
32 in flight on PostgreSQL, one instance: lag p99 31-36 ms without a limit, 4-5 ms with 4).
Four keeps the loop's lag low with the database near; with a far one (each request waits on
about 7 round trips) the operator raises API_MAX_IN_FLIGHT.

A request that waits longer than `wait_seconds` is answered 503 busy with Retry-After: a
database that stopped answering does not pile up waiting requests without end, and the
storefront retries with the same Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.errors import error_response
from services import metrics
from services.places import take_place

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1  # the queue moves in milliseconds when the database answers


def bounded(limit: int, wait_seconds: float):
    """A middleware letting at most `limit` requests of this app run at once, the others
    waiting in arrival order for at most `wait_seconds` each."""
    if limit < 1:
        raise ValueError("at least one request must be let in")
    slots = asyncio.Semaphore(limit)

    @web.middleware
    async def in_flight(request: web.Request, handler) -> web.StreamResponse:
        if not await take_place(slots, wait_seconds):
            metrics.API_REQUESTS_SHED.inc()
            log.warning(
                "storefront API %s %s: no slot within %gs (%d in flight); answered busy",
                request.method,
                request.path,
                wait_seconds,
                limit,
            )
            return error_response(
                503,
                codes.BUSY,
                "the service is busy; retry after the Retry-After seconds",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        try:
            return await handler(request)
        finally:
            slots.release()

    return in_flight
