"""GET /api/v1/orders (H4): the shop's orders newest first in cursor pages, every filter, and
anything unreadable refused with the parameter named. Another shop's orders never show."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from tests.api.conftest import order_body
from tests.factories import make_order, make_shop


async def listed(api, query: str = "") -> tuple[list[int], str | None]:
    status, body, _ = await api.send("GET", f"/v1/orders{query}")
    assert status == 200, body
    return [order["number"] for order in body["orders"]], body["next_cursor"]


async def test_pages_follow_the_cursor_to_the_end(api):
    # given five orders, an hour apart, and another shop's
    for index in range(5):
        assert (await api.post(order_body(external_id=f"web-{index}")))[0] == 201
        api.container.clock.advance(timedelta(hours=1))
    await make_order(api.container, await make_shop(api.container))
    # when the storefront reads two at a time
    numbers, cursor = await listed(api, "?limit=2")
    pages = [numbers]
    while cursor is not None:
        numbers, cursor = await listed(api, f"?limit=2&cursor={cursor}")
        pages.append(numbers)
    # then it sees its five, newest first, each once
    assert pages == [[5, 4], [3, 2], [1]]
    _, body, _ = await api.send("GET", "/v1/orders?limit=1")
    [first] = body["orders"]
    assert first["external_id"] == "web-4" and first["status"]["code"] == "awaiting_confirmation"
    assert (first["total"], first["currency"], first["source"]) == ("3301.00", "RUB", "api")


async def test_filters(api):
    start = api.container.clock.now()
    for index in range(4):
        assert (await api.post(order_body(external_id=f"web-{index}")))[0] == 201
        api.container.clock.advance(timedelta(hours=1))
    # order 2 changes an hour after the last was made
    status, _, _ = await api.send("POST", "/v1/orders/2/cancel", {"reason": "out_of_stock"})
    assert status == 200
    at = lambda hours: quote((start + timedelta(hours=hours)).isoformat())  # noqa: E731
    assert (await listed(api, "?status=cancelled"))[0] == [2]
    assert (await listed(api, "?status=cancelled,awaiting_confirmation"))[0] == [4, 3, 2, 1]
    assert (await listed(api, f"?updated_since={at(4)}"))[0] == [2]
    assert (await listed(api, f"?created_from={at(1)}&created_to={at(3)}"))[0] == [3, 2]
    assert (await listed(api, "?external_id=web-2"))[0] == [3]
    assert (await listed(api, "?external_id=nope"))[0] == []
    assert (await listed(api, "?created_from=2026-11-24T07:00:00Z&limit=100"))[0] == [4, 3, 2, 1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=99999999999999999999", "limit"),
        ("?cursor=garbage", "cursor"),
        ("?cursor=bjow", "cursor"),  # "n:0"
        ("?created_from=yesterday", "created_from"),
        ("?updated_since=2026-11-24T07:00:00", "updated_since"),  # no time zone
        ("?status=PAID!", "status"),
        ("?status=", "status"),
        ("?external_id=", "external_id"),
        ("?external_id=%00", "external_id"),  # PostgreSQL text cannot hold NUL: was a 500
        ("?colour=red", "colour"),
        ("?limit=1&limit=2", "limit"),
    ],
)
async def test_a_bad_parameter_is_named(api, query, field):
    status, body, _ = await api.send("GET", f"/v1/orders{query}")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid", field)
