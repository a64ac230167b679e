"""POST and GET of orders through the storefront API: answers, splits, every validation error
named by its field, authentication, size limit, and reading orders of this shop only."""

from __future__ import annotations

import io

import pypdf
import pytest
from sqlalchemy import select

from services.documents.service import DocumentService
from services.orders.actors import ActorRef
from storage.models import Buyer, Order, OrderItem
from tests.api.conftest import MAX_BODY, ORDER, order_body
from tests.factories import make_shop


async def test_happy_path_creates_the_order_and_answers_with_its_link(api):
    # when
    status, body, headers = await api.post(ORDER)
    # then
    assert status == 201, body
    assert body["external_id"] == "web-1001"
    [created] = body["orders"]
    assert created["number"] == 1
    assert created["status"]["code"] == "awaiting_confirmation"
    assert created["status"]["title"]
    assert created["total"] == "3301.00" and created["total_minor"] == 330100
    assert created["currency"] == "RUB"
    async with api.container.sessions() as session:
        order = await session.scalar(select(Order).where(Order.number == 1))
        items = list(await session.scalars(select(OrderItem)))
        buyer = await session.get(Buyer, order.buyer_id)
    assert created["buyer_link"] == f"https://t.me/cats_shop_bot?start={order.buyer_token}"
    assert (order.source, order.external_id, order.delivery_cost) == ("api", "web-1001", 30000)
    assert order.buyer_comment == "Ring twice"
    assert [(i.sku, i.quantity, i.unit_price, i.returnable, i.return_days) for i in items] == [
        ("CAT-BED", 2, 150050, True, 14)
    ]
    assert (buyer.phone, buyer.email, buyer.language) == ("+79161234567", "ivan@example.com", "ru")
    assert headers["Content-Type"].startswith("application/json")


async def test_mixed_availability_becomes_two_orders_in_one_answer(api):
    # given goods on the shelf and goods made for the buyer
    items = [
        {**ORDER["items"][0]},
        {"sku": "SOFA", "name": "Sofa", "quantity": 1, "unit_price": "20000"},
        {**ORDER["items"][0], "sku": "TABLE", "availability": "made_to_order"},
    ]
    # when
    status, body, _ = await api.post(order_body(items=items))
    # then
    assert status == 201, body
    orders = body["orders"]
    assert [(o["number"], o["availability"]) for o in orders] == [
        (1, "in_stock"),
        (2, "made_to_order"),
    ]
    # the delivery is paid once, with the first order
    assert [o["total_minor"] for o in orders] == [300100 + 2000000 + 30000, 300100]
    assert orders[0]["buyer_link"] != orders[1]["buyer_link"]
    assert await api.order_count() == 2


def _bad(path: list, value):
    """The order with the value at `path` replaced (a missing value: the key removed)."""
    body = order_body()
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


async def test_the_storefronts_own_number_is_kept_and_shown_to_the_buyer(api):
    """Issue 22: "#1001" is what the buyer knows the order by: e-mails and documents show it."""
    status, body, _headers = await api.post(order_body(number="#1001"))
    assert status == 201, body
    async with api.container.sessions() as session:
        order = await session.scalar(select(Order).where(Order.number == 1))
    assert order.storefront_number == "#1001"
    documents = DocumentService(api.container.sessions, api.container.clock, api.container.orders)
    invoice = await documents.for_order(order.id, ActorRef.buyer(order.buyer_id), "invoice", "ru")
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(invoice.pdf)).pages)
    assert "(на сайте #1001)" in " ".join(text.split())


INVALID = [
    # (path, value, the field named, the status)
    (["external_id"], KeyError, "external_id", 422),
    (["external_id"], "", "external_id", 422),
    (["external_id"], 1001, "external_id", 422),
    (["external_id"], "x" * 65, "external_id", 422),
    (["number"], "x" * 65, "number", 422),
    (["number"], 1001, "number", 422),
    (["buyer"], KeyError, "buyer", 422),
    (["buyer", "name"], 5, "buyer.name", 422),
    (["buyer", "name"], "x" * 129, "buyer.name", 422),
    (["buyer", "name"], "Iv\x00an", "buyer.name", 422),  # PostgreSQL text holds no NUL
    (["buyer", "phone"], "12", "buyer.phone", 422),
    (["buyer", "phone"], "not a phone", "buyer.phone", 422),
    (["buyer", "email"], "ivan@", "buyer.email", 422),
    (["buyer", "language"], "de", "buyer.language", 422),
    (["buyer", "nickname"], "vanya", "buyer.nickname", 422),
    (["items"], [], "items", 422),
    (["items"], KeyError, "items", 422),
    (["items"], {"sku": "x"}, "items", 422),
    (["items", 0, "sku"], "", "items[0].sku", 422),
    (["items", 0, "sku"], KeyError, "items[0].sku", 422),
    (["items", 0, "name"], "", "items[0].name", 422),
    (["items", 0, "name"], "   ", "items[0].name", 422),
    (["items", 0, "quantity"], 0, "items[0].quantity", 422),
    (["items", 0, "quantity"], -1, "items[0].quantity", 422),
    (["items", 0, "quantity"], 100_001, "items[0].quantity", 422),
    (["items", 0, "quantity"], 1.5, "items[0].quantity", 422),
    (["items", 0, "quantity"], "2", "items[0].quantity", 422),
    (["items", 0, "quantity"], True, "items[0].quantity", 422),
    (["items", 0, "unit_price"], 1500.5, "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "-1.00", "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "1.005", "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "1e3", "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "99999999999999", "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "10000000000.01", "items[0].unit_price", 422),
    (["items", 0, "unit_price"], "", "items[0].unit_price", 422),
    (["items", 0, "availability"], "soon", "items[0].availability", 422),
    (["items", 0, "returnable"], "yes", "items[0].returnable", 422),
    (["items", 0, "return_days"], -1, "items[0].return_days", 422),
    (["items", 0, "return_days"], 3651, "items[0].return_days", 422),
    (["items", 0, "colour"], "red", "items[0].colour", 422),
    (["delivery"], KeyError, "delivery", 422),
    (["delivery", "method"], "teleport", "delivery.method", 422),
    (["delivery", "address"], "x" * 1001, "delivery.address", 422),
    (["delivery", "cost"], "3.001", "delivery.cost", 422),
    (["delivery", "cost"], 300, "delivery.cost", 422),
    (["payment"], KeyError, "payment", 422),
    (["payment", "method"], "barter", "payment.method", 422),
    (["comment"], "x" * 2001, "comment", 422),
    (["comment"], None, "comment", 422),
    (["discount"], "10.00", "discount", 422),
]


async def test_every_invalid_field_is_named_and_creates_nothing(api):
    # one server for all the cases (each its own request): the suite stays fast
    for path, value, field, status in INVALID:
        # when
        got, body, _ = await api.post(_bad(path, value))
        # then
        case = (path, value, body)
        assert got == status, case
        assert body["error"]["code"] == "invalid", case
        assert body["error"]["field"] == field, case
        assert body["error"]["message"], case
    assert await api.order_count() == 0


async def test_the_second_bad_item_is_named_by_its_index(api):
    items = [dict(ORDER["items"][0]), {**ORDER["items"][0], "unit_price": "12.345"}]
    status, body, _ = await api.post(order_body(items=items))
    assert (status, body["error"]["field"]) == (422, "items[1].unit_price")
    assert "decimals" in body["error"]["message"]


async def test_an_order_too_large_for_any_ledger_is_refused(api):
    # each line is allowed, their sum is not: 200 such lines would overflow a 64-bit total
    line = {**ORDER["items"][0], "quantity": 100_000, "unit_price": "10000000000"}
    status, body, _ = await api.post(order_body(items=[line] * 2))
    assert (status, body["error"]["field"]) == (422, "items")
    assert await api.order_count() == 0


async def test_a_buyer_without_any_contact_is_refused(api):
    status, body, _ = await api.post(order_body(buyer={"name": "Nobody"}))
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid", "buyer")
    assert await api.order_count() == 0


async def test_a_second_order_with_the_same_external_id_is_a_conflict(api):
    assert (await api.post(ORDER))[0] == 201
    status, body, _ = await api.post(order_body(comment="again"))
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        409,
        "duplicate",
        "external_id",
    )
    assert await api.order_count() == 1


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "malformed_json"),
        (b'"order"', "application/json", 400, "malformed_json"),
        (b'{"external_id": NaN}', "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        (b"external_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
async def test_what_is_not_a_json_object_is_refused(api, raw, content_type, status, code):
    headers = {**api.auth(), "Content-Type": content_type}
    async with api.client.post("/api/v1/orders", data=raw, headers=headers) as response:
        assert response.status == status
        assert (await response.json())["error"]["code"] == code
    assert await api.order_count() == 0


async def test_an_oversized_body_is_refused_with_json_413(api):
    body = order_body(comment="x" * MAX_BODY)
    status, answer, _ = await api.post(body)
    assert (status, answer["error"]["code"]) == (413, "body_too_large")

    # and a chunked body without a length is cut off too
    async def chunks():
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    headers = {**api.auth(), "Content-Type": "application/json"}
    async with api.client.post("/api/v1/orders", data=chunks(), headers=headers) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body_too_large"
    assert await api.order_count() == 0


async def test_missing_wrong_and_revoked_tokens_get_the_same_401(api):
    revoked = await api.tokens.create(api.shop_id, "old")
    await api.tokens.revoke(api.shop_id, revoked.info.id)
    answers = []
    for headers in (
        {},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {api.token}"},
        {"Authorization": "Bearer sbk_not-a-token"},
        {"Authorization": f"Bearer {api.token}x"},
        {"Authorization": f"Bearer {revoked.token}"},
    ):
        async with api.client.post("/api/v1/orders", json=ORDER, headers=headers) as response:
            answers.append((response.status, await response.text()))
        async with api.client.get("/api/v1/orders/1", headers=headers) as response:
            answers.append((response.status, await response.text()))
    assert {status for status, _ in answers} == {401}
    # one body for all: nothing tells a revoked token from one that never existed
    assert len({text for _, text in answers}) == 1
    assert "revoked" not in answers[0][1]
    assert await api.order_count() == 0


async def test_get_reads_own_orders_only(api, database_url, clock):
    # given an order of this shop, moved on, and an order of another shop
    _, body, _ = await api.post(ORDER)
    number = body["orders"][0]["number"]
    async with api.container.sessions() as session:
        order = await session.scalar(select(Order).where(Order.number == number))
    owner = ActorRef.user(api.shop.owner.id)
    orders = api.container.orders
    await orders.apply(order.id, owner, "confirm")
    await orders.add_comment(order.id, owner, "private: the buyer sounded unsure")
    await orders.apply(order.id, owner, "mark_paid")
    await orders.apply(order.id, owner, "ship", {"carrier": "CDEK", "track_code": "RA123456789RU"})
    other = await make_shop(api.container)
    other_token = (await api.tokens.create(other.id, "theirs")).token
    # when this shop reads its order
    status, state = await api.get(number)
    # then it gets the status, the buyer's history and the parcel fields
    assert status == 200
    assert state["number"] == number and state["external_id"] == "web-1001"
    assert state["status"]["code"] == "shipped"
    assert state["total"] == "3301.00"
    assert (state["carrier"], state["track_code"]) == ("CDEK", "RA123456789RU")
    assert [h["action"] for h in state["history"]] == [
        "create",
        "confirm",
        "mark_paid",
        "start_preparing",
        "ship",
    ]
    assert state["history"][-1]["to_status"]["code"] == "shipped"
    assert "private" not in str(state)
    # another shop's token does not see it; unknown and silly numbers are 404 JSON
    for number_, token in ((number, other_token), (999, None), ("abc", None), ("9" * 30, None)):
        status, answer = await api.get(number_, token=token)
        assert (status, answer["error"]["code"]) == (404, "not_found")


async def test_the_openapi_document_is_served(api):
    async with api.client.get("/api/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert {"/v1/orders", "/v1/orders/{number}"} <= set(document["paths"])
    schemas = document["components"]["schemas"]
    assert {"OrderRequest", "Error", "CreatedOrders", "OrderState"} <= set(schemas)
    assert schemas["OrderRequest"]["additionalProperties"] is False


async def test_unknown_paths_and_methods_answer_json(api):
    async with api.client.get("/api/v1/nothing", headers=api.auth()) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with api.client.delete("/api/v1/orders", headers=api.auth()) as response:
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"
