"""The storefront API works on a bounded number of requests at once (handlers/http/api/
in_flight.py): the rest wait their turn, none is lost, and one that waits too long is answered
503 busy without having run."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from handlers.http.api import api_app
from handlers.http.api.in_flight import bounded
from services import metrics
from tests.api.conftest import order_body, start_api


class Held:
    """A resource whose requests run until the test lets them go, counting how many run."""

    def __init__(self) -> None:
        self.arrived = 0
        self.running = 0
        self.most_running = 0
        self.started: list[str] = []
        self.go = asyncio.Event()
        self.entered = asyncio.Condition()

    def routes(self):
        return [web.post("/held/{name}", self.held), web.post("/fail", self.fail)]

    async def held(self, request: web.Request) -> web.Response:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        async with self.entered:
            self.started.append(request.match_info["name"])
            self.entered.notify_all()
        try:
            # Bounded, so a test whose request was wrongly let in fails instead of hanging.
            await asyncio.wait_for(self.go.wait(), 10)
        finally:
            self.running -= 1
        return web.json_response({"done": request.match_info["name"]})

    async def fail(self, request: web.Request) -> web.Response:
        raise RuntimeError("a bug in a handler")

    async def until_started(self, count: int) -> None:
        async with self.entered:
            await self.entered.wait_for(lambda: len(self.started) >= count)

    async def until_arrived(self, count: int) -> None:
        async with self.entered:
            await self.entered.wait_for(lambda: self.arrived >= count)


async def serve(resource: Held, limit: int, wait_seconds: float) -> TestClient:
    """The API app under an outer one that counts the requests that reached the server."""

    @web.middleware
    async def arrived(request: web.Request, handler):
        async with resource.entered:
            resource.arrived += 1
            resource.entered.notify_all()
        return await handler(request)

    outer = web.Application(middlewares=[arrived])
    outer.add_subapp("/api", api_app(resource, max_in_flight=limit, queue_seconds=wait_seconds))
    client = TestClient(TestServer(outer))
    await client.start_server()
    return client


async def post(client: TestClient, path: str):
    async with client.post(path) as response:
        return response.status, await response.json(), response.headers


async def test_requests_beyond_the_limit_wait_and_all_are_served():
    resource = Held()
    client = await serve(resource, limit=2, wait_seconds=60)
    try:
        requests = [asyncio.create_task(post(client, f"/api/held/{n}")) for n in range(6)]
        await resource.until_arrived(6)
        await resource.until_started(2)
        for _ in range(20):  # ample turns for an arrived request to reach its handler
            await asyncio.sleep(0)
        assert resource.running == 2 and len(resource.started) == 2
        resource.go.set()
        answers = await asyncio.gather(*requests)
    finally:
        await client.close()
    assert [status for status, _, _ in answers] == [200] * 6
    assert sorted(body["done"] for _, body, _ in answers) == [str(n) for n in range(6)]
    assert resource.most_running == 2


async def test_a_request_that_waits_too_long_is_answered_busy_and_never_runs():
    resource = Held()
    client = await serve(resource, limit=1, wait_seconds=0.05)
    shed_before = metrics.API_REQUESTS_SHED._value.get()
    try:
        first = asyncio.create_task(post(client, "/api/held/first"))
        await resource.until_started(1)
        status, body, headers = await post(client, "/api/held/second")
        assert status == 503
        assert body["error"]["code"] == "busy"
        assert headers["Retry-After"] == "1"
        assert resource.started == ["first"]  # the refused request did nothing
        assert metrics.API_REQUESTS_SHED._value.get() == shed_before + 1

        resource.go.set()
        assert (await first)[0] == 200
        # The refused request's wait gave its place back: the one slot is free again.
        status, body, _ = await post(client, "/api/held/third")
        assert (status, body) == (200, {"done": "third"})
        assert resource.started == ["first", "third"]
    finally:
        await client.close()


async def test_a_failing_request_gives_its_slot_back():
    resource = Held()
    resource.go.set()
    client = await serve(resource, limit=1, wait_seconds=0.5)
    try:
        for _ in range(3):
            status, body, _ = await post(client, "/api/fail")
            assert (status, body["error"]["code"]) == (500, "internal")
        status, body, _ = await post(client, "/api/held/after")
        assert (status, body) == (200, {"done": "after"})
    finally:
        await client.close()


def test_no_slot_at_all_is_refused():
    with pytest.raises(ValueError):
        bounded(0, 1.0)


async def test_a_burst_of_orders_through_one_slot_all_land(database_url, engine, clock):
    api = await start_api(database_url, clock, api_max_in_flight=1)
    try:
        answers = await asyncio.gather(
            *(api.post(order_body(external_id=f"burst-{n}")) for n in range(12))
        )
        assert [status for status, _, _ in answers] == [201] * 12
        numbers = sorted(body["orders"][0]["number"] for _, body, _ in answers)
        assert numbers == list(range(1, 13))
        assert await api.order_count() == 12
    finally:
        await api.client.close()
        await api.container.close()
