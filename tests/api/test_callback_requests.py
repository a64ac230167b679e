"""POST /api/v1/callback-requests (seed 002's one-click buy): kept with its product, the staff
pinged once even when the storefront retries with its key; a bad phone or shape is a 422
that keeps nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import CallbackRequest, OutboxMessage

REQUEST = {
    "name": "Olga",
    "phone": "8 (916) 123-45-67",
    "product": {"sku": "CAT-BED", "name": "Cat bed", "price": "1500.50"},
    "comment": "After 18:00, please",
}


async def kept(api) -> tuple[list[CallbackRequest], list[OutboxMessage]]:
    async with api.container.sessions() as session:
        requests = list(await session.scalars(select(CallbackRequest)))
        pings = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == "callback_request")
            )
        )
    return requests, pings


async def test_a_request_is_kept_and_the_staff_pinged_once(api):
    # when the storefront sends it, then retries it with the same key
    first = await api.send("POST", "/v1/callback-requests", REQUEST, key="cb-1")
    again = await api.send("POST", "/v1/callback-requests", REQUEST, key="cb-1")
    # then one request, one ping
    assert first[0] == 201 and first[1]["status"] == "new", first
    assert again[:2] == first[:2] and again[2]["Idempotent-Replayed"] == "true"
    [request], [ping] = await kept(api)
    assert (request.name, request.phone, request.product_price) == ("Olga", "+79161234567", 150050)
    assert (request.product_sku, request.product_name, request.source) == (
        "CAT-BED",
        "Cat bed",
        "api",
    )
    assert (ping.shop_id, ping.order_id, ping.payload) == (
        api.shop_id,
        None,
        {"callback_request_id": request.id},
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": ""}, "phone"),
        ({"product": {"name": ""}}, "product.name"),
        ({"product": {"name": "x", "price": "1e3"}}, "product.price"),
        ({"product": {"name": "x", "price": "1.001"}}, "product.price"),
        ({"product": None}, "product"),
        ({"name": "x" * 129}, "name"),
        ({"phone": 79161234567}, "phone"),
        ({"email": "a@b.c"}, "email"),
    ],
)
async def test_a_bad_request_keeps_nothing(api, change, field):
    status, body, _ = await api.send("POST", "/v1/callback-requests", {**REQUEST, **change})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid", field)
    assert await kept(api) == ([], [])
