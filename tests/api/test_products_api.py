"""The storefront's products and stock over the API (issue 19): PUT creates and changes a
product, GET reads one or pages of them, POST /v1/stock sets or adjusts counts all or none,
with the Idempotency-Key as for orders; an order beyond the stock is then refused (409)."""

from __future__ import annotations

from tests.api.conftest import order_body


def bed(**changes):
    body = {
        "title": "Cat bed",
        "price": "1490.50",
        "on_hand": 3,
        "returnable": True,
        "return_days": 14,
        "low_stock_at": 1,
    }
    body.update(changes)
    return body


async def test_put_get_and_page_products(api):
    status, body, _ = await api.send("PUT", "/v1/products/BED-1", bed())
    assert status == 200, body
    assert (body["sku"], body["price"], body["price_minor"], body["available"]) == (
        "BED-1",
        "1490.50",
        149050,
        3,
    )
    status, body, _ = await api.send(
        "PUT",
        "/v1/products/BED-1-M",
        bed(title="Cat bed M", parent_sku="BED-1", variant="M", on_hand=1),
    )
    assert (status, body["parent_sku"], body["variant"]) == (200, "BED-1", "M")
    # a change keeps what is not sent as it was: on_hand omitted stays 3
    status, body, _ = await api.send("PUT", "/v1/products/BED-1", bed(price="1390", on_hand=None))
    assert (status, body["price"], body["on_hand"]) == (200, "1390.00", 3)
    # bad input is named and changes nothing
    status, body, _ = await api.send("PUT", "/v1/products/BED-1", bed(price="-1"))
    assert (status, body["error"]["field"]) == (422, "price")
    status, body, _ = await api.send("PUT", "/v1/products/X", bed(parent_sku="NOPE"))
    assert (status, body["error"]["field"]) == (422, "parent_sku")

    async with api.client.get("/api/v1/products/NOPE", headers=api.auth()) as r:
        assert (r.status, (await r.json())["error"]["code"]) == (404, "not_found")
    async with api.client.get("/api/v1/products?limit=1", headers=api.auth()) as r:
        first = await r.json()
    assert [p["sku"] for p in first["products"]] == ["BED-1"]
    url = f"/api/v1/products?limit=1&cursor={first['next_cursor']}"
    async with api.client.get(url, headers=api.auth()) as r:
        second = await r.json()
    assert ([p["sku"] for p in second["products"]], second["next_cursor"]) == (["BED-1-M"], None)
    async with api.client.get("/api/v1/products?page=2", headers=api.auth()) as r:
        assert r.status == 422
    async with api.client.get("/api/v1/products") as r:
        assert r.status == 401


async def test_stock_is_set_or_adjusted_all_or_none_and_orders_follow(api):
    await api.send("PUT", "/v1/products/BED-1", bed())
    await api.send("PUT", "/v1/products/BOWL-1", bed(title="Bowl", price="300", on_hand=10))

    change = {
        "items": [{"sku": "BED-1", "set": 5}, {"sku": "BOWL-1", "adjust": -4}],
        "reason": "stocktaking",
    }
    status, body, _ = await api.send("POST", "/v1/stock", change, key="st-1")
    assert status == 200, body
    assert {p["sku"]: p["on_hand"] for p in body["products"]} == {"BED-1": 5, "BOWL-1": 6}
    # the same key again is a replay, not a second adjustment
    status, _again, headers = await api.send("POST", "/v1/stock", change, key="st-1")
    assert (status, headers.get("Idempotent-Replayed")) == (200, "true")
    async with api.client.get("/api/v1/products/BOWL-1", headers=api.auth()) as r:
        assert (await r.json())["on_hand"] == 6

    # an unknown SKU or a count below zero refuses all of it
    bad = {"items": [{"sku": "BED-1", "set": 1}, {"sku": "GHOST", "set": 1}], "reason": "x"}
    status, body, _ = await api.send("POST", "/v1/stock", bad)
    assert (status, body["error"]["field"]) == (404, "items[1].sku")
    bad = {"items": [{"sku": "BED-1", "set": 1}, {"sku": "BOWL-1", "adjust": -7}], "reason": "x"}
    status, body, _ = await api.send("POST", "/v1/stock", bad)
    assert (status, body["error"]["field"]) == (422, "items[1]")
    both = {"items": [{"sku": "BED-1", "set": 1, "adjust": 1}], "reason": "x"}
    status, body, _ = await api.send("POST", "/v1/stock", both)
    assert (status, body["error"]["field"]) == (422, "items[0]")
    async with api.client.get("/api/v1/products/BED-1", headers=api.auth()) as r:
        assert (await r.json())["on_hand"] == 5

    # an order takes 4 beds; then none can go below what it holds
    line = {"sku": "BED-1", "name": "Cat bed", "quantity": 4, "unit_price": "1490.50"}
    status, body, _ = await api.post(order_body(items=[line]))
    assert status == 201, body
    status, body, _ = await api.send(
        "POST", "/v1/stock", {"items": [{"sku": "BED-1", "set": 3}], "reason": "x"}
    )
    assert status == 422 and "held for open orders" in body["error"]["message"]
    status, body, _ = await api.post(order_body(external_id="web-2", items=[line]))
    assert (status, body["error"]["skus"]) == (409, ["BED-1"])


async def test_a_sku_with_nul_is_refused_not_an_internal_error(api):
    # PostgreSQL text cannot hold NUL: the SKU in the path was sent to it and failed (500)
    status, body, _ = await api.send("PUT", "/v1/products/BED%001", bed())
    assert (status, body["error"]["field"]) == (422, "sku")
    status, body, _ = await api.send("GET", "/v1/products/BED%001")
    assert (status, body["error"]["code"]) == (404, "not_found")
    async with api.client.get("/api/v1/products", headers=api.auth()) as r:
        assert (await r.json())["products"] == []
