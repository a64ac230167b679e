"""At most ORDER_MAX_IN_FLIGHT order transactions run at once in a process
(services/orders/in_flight.py): the others wait their turn, a nested one passes, and one that
waits too long is refused as busy."""

from __future__ import annotations

import asyncio

import pytest

from services.orders.in_flight import InFlight
from services.refusals import OrderRefused, Problem


class Held:
    """Transactions that stay in their place until the test lets them go."""

    def __init__(self, in_flight: InFlight) -> None:
        self.in_flight = in_flight
        self.inside = 0
        self.most_inside = 0
        self.done: list[int] = []
        self.go = asyncio.Event()

    async def transaction(self, number: int) -> None:
        async with self.in_flight.place():
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            try:
                # Bounded, so a transaction wrongly kept out fails the test instead of hanging.
                await asyncio.wait_for(self.go.wait(), 10)
            finally:
                self.inside -= 1
            self.done.append(number)


async def turns(count: int = 20) -> None:
    """Let every ready task run as far as it can (nothing here waits on anything else)."""
    for _ in range(count):
        await asyncio.sleep(0)


async def test_beyond_the_limit_transactions_wait_and_then_all_run_in_order():
    held = Held(InFlight(2))
    tasks = [asyncio.create_task(held.transaction(n)) for n in range(6)]
    await turns()
    assert held.inside == 2  # four wait outside

    held.go.set()
    await asyncio.gather(*tasks)
    assert held.most_inside == 2
    assert held.done == list(range(6))  # in arrival order, none lost


async def test_without_a_limit_every_transaction_runs_at_once():
    held = Held(InFlight(None))
    tasks = [asyncio.create_task(held.transaction(n)) for n in range(6)]
    await turns()
    assert held.inside == 6
    held.go.set()
    await asyncio.gather(*tasks)


async def test_a_transaction_inside_another_passes_instead_of_waiting_for_itself():
    in_flight = InFlight(1)

    async def inner() -> str:
        async with in_flight.place():
            return "inner ran"

    async with asyncio.timeout(5), in_flight.place():
        assert await inner() == "inner ran"  # in the same task
        assert await asyncio.create_task(inner()) == "inner ran"  # in a task it started


async def test_a_place_is_given_back_when_the_transaction_fails():
    in_flight = InFlight(1)
    with pytest.raises(RuntimeError):
        async with in_flight.place():
            raise RuntimeError("the transaction failed")

    async with asyncio.timeout(5), in_flight.place():
        pass  # would wait for ever for the lost place


async def test_a_transaction_that_waits_too_long_is_refused_as_busy_and_takes_no_place():
    in_flight = InFlight(1, wait_seconds=0)
    held = Held(in_flight)
    first = asyncio.create_task(held.transaction(1))
    await turns()

    with pytest.raises(OrderRefused) as refused:
        async with in_flight.place():
            pytest.fail("let in beside the one holding the only place")
    assert refused.value.code == Problem.BUSY

    held.go.set()
    await first
    async with asyncio.timeout(5), in_flight.place():
        pass  # the refused one did not keep the place


def test_a_limit_below_one_is_refused():
    with pytest.raises(ValueError):
        InFlight(0)
