"""Taking one of a bounded number of places, waiting for one at most so long: the shared
step of the storefront API's and the order transactions' bounds on work in flight
(handlers/http/api/in_flight.py, services/orders/in_flight.py)."""

from __future__ import annotations

import asyncio


async def take_place(places: asyncio.Semaphore, wait_seconds: float) -> bool:
    """One of `places`, in arrival order; False when none came within `wait_seconds` (then
    none is held)."""
    if not places.locked():  # the common case takes no timer
        await places.acquire()
        return True
    try:
        async with asyncio.timeout(wait_seconds):
            await places.acquire()
    except TimeoutError:
        return False
    return True
