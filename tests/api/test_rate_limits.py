"""Per-token rate limits (H4): 429 with Retry-After past the limit, each token counted on its
own, the window turning with the clock; with Redis, two instances of the bot count together."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from tests.api.conftest import start_api

REDIS_URL = os.environ.get("TEST_REDIS_URL")


async def statuses(api, count: int, token: str | None = None) -> list[int]:
    return [(await api.send("GET", "/v1/orders", token=token))[0] for _ in range(count)]


async def test_past_the_limit_a_token_waits_for_the_window(database_url, engine, clock):
    # given a limit of 3 requests a minute, 20 s into a minute
    clock.set(clock.now().replace(second=20))
    api = await start_api(database_url, clock, api_rate_limit=3, api_rate_window_seconds=60)
    try:
        other = (await api.tokens.create(api.shop_id, "second site")).token
        # when the storefront sends four
        assert await statuses(api, 3) == [200, 200, 200]
        status, body, headers = await api.send("GET", "/v1/orders")
        # then the fourth is refused until the minute turns, 40 s on
        assert (status, body["error"]["code"]) == (429, "rate_limited")
        assert headers["Retry-After"] == "40"
        # a write is refused too, before anything is done
        status, _, _ = await api.send("POST", "/v1/orders/1/cancel", {"reason": "x"})
        assert status == 429
        # another token has its own count
        assert await statuses(api, 3, token=other) == [200, 200, 200]
        # and when the window turns the first may go on
        clock.advance(timedelta(seconds=40))
        assert await statuses(api, 1) == [200]
        # a request without a valid token is refused as such, whatever the count
        assert (await api.send("GET", "/v1/orders", token="sbk_nope"))[0] == 401
    finally:
        await api.client.close()
        await api.container.close()


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set: Redis tests need a server")
async def test_two_instances_count_one_token_together_in_redis(database_url, engine, clock):
    # given two instances of the bot on one database and one Redis, a limit of 4 a minute
    settings = {"api_rate_limit": 4, "api_rate_window_seconds": 60, "redis_url": REDIS_URL}
    clock.set(clock.now().replace(second=0))
    first = await start_api(database_url, clock, **settings)
    second = await start_api(database_url, clock, shop=first.shop, **settings)
    second.token = first.token
    try:
        # when the storefront's requests are spread over both
        spread = [*await statuses(first, 2), *await statuses(second, 2)]
        # then the fifth, on either instance, is over the limit they share
        assert spread == [200, 200, 200, 200]
        assert await statuses(second, 1) == [429]
        assert await statuses(first, 1) == [429]
        # and the next minute both let it through again
        clock.advance(timedelta(seconds=60))
        assert await statuses(second, 1) == [200]
    finally:
        for api in (first, second):
            await api.client.close()
            await api.container.close()
