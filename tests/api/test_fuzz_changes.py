"""The H4 endpoints fuzzed from the OpenAPI document (as test_fuzz.py does order creation):
cancel, shipment, edit, one-click buy and the list, with bodies generated from their
request schemas and the same bodies broken, against orders in every kind of status.

Whatever arrives: never a 5xx; every answer's status is one the document lists for the
operation, errors are JSON with a code; a refused request writes nothing (the order, its
history, the outbox and the callback requests are as they were); an invalid body is a 4xx.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from handlers.http.api.openapi import openapi_document
from services.orders.actors import ActorRef
from storage.models import CallbackRequest, Order, OrderEvent, OutboxMessage
from tests.api.conftest import order_body
from tests.api.jsonschema_strategies import Resolver, conforms, strategy
from tests.api.test_fuzz import ODD_VALUES, _paths

DOCUMENT = openapi_document()
RESOLVE = Resolver(DOCUMENT)


def operation(path: str, method: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]


def request_schema(path: str, method: str) -> dict[str, Any]:
    return operation(path, method)["requestBody"]["content"]["application/json"]["schema"]


HINTS = {
    "reason": lambda: st.sampled_from(
        ["out_of_stock", "other", "changed_mind", "cannot_reach_buyer"]
    ),
    "track_code": lambda: st.sampled_from(["1234567890", "RA123456785RU", "12 34", "#!"]),
    "carrier": lambda: st.sampled_from(["CDEK", "Russian Post"]),
    "contact.phone": lambda: st.sampled_from(["+79031234567", "8 916 000-00-00", "+7 000"]),
    "contact.email": lambda: st.sampled_from(["a@example.com", "bad"]),
    "phone": lambda: st.sampled_from(["+79161234567", "8 (916) 123-45-67", "12"]),
    "delivery.cost": lambda: st.sampled_from(["0", "300.00", None]),
    "product.price": lambda: st.sampled_from(["1500.50", "0", None]),
}
CHANGES = [
    ("/v1/orders/{number}/cancel", "post"),
    ("/v1/orders/{number}/shipment", "post"),
    ("/v1/orders/{number}/payments", "post"),
    ("/v1/orders/{number}", "patch"),
    ("/v1/callback-requests", "post"),
]


@st.composite
def requests(draw) -> tuple[str, str, Any, bool]:
    path, method = draw(st.sampled_from(CHANGES))
    schema = request_schema(path, method)
    body = draw(strategy(schema, RESOLVE, hints=HINTS))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        paths = _paths(body)
        how = draw(st.sampled_from(["drop", "extra", "replace", "root"]))
        if how == "root" or not paths:
            body = draw(ODD_VALUES)
            break
        where = draw(st.sampled_from(paths))
        parent = body
        for part in where[:-1]:
            parent = parent[part]
        if how == "drop":
            del parent[where[-1]]
        elif how == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
        else:
            parent[where[-1]] = draw(ODD_VALUES)
    return path, method, body, conforms(schema, body, RESOLVE)


async def shop_orders(api, cache: dict) -> list[int]:
    """Orders in several statuses, made once per test (hypothesis reuses the fixture)."""
    if "numbers" not in cache:
        numbers = []
        for index, actions in enumerate(
            [(), ("confirm",), ("confirm", "mark_paid"), ("confirm", "mark_paid")]
        ):
            status, body, _ = await api.post(order_body(external_id=f"fz-{index}"))
            assert status == 201
            number = body["orders"][0]["number"]
            async with api.container.sessions() as session:
                order_id = await session.scalar(
                    select(Order.id).where(Order.shop_id == api.shop_id, Order.number == number)
                )
            for action in actions:
                await api.container.orders.apply(order_id, ActorRef.user(api.shop.owner.id), action)
            numbers.append(number)
        cache["numbers"] = numbers
    return cache["numbers"]


async def snapshot(api) -> tuple:
    async with api.container.sessions() as session:
        orders = (
            await session.execute(
                select(
                    Order.number,
                    Order.version,
                    Order.status,
                    Order.buyer_id,
                    Order.delivery_address,
                    Order.delivery_cost,
                    Order.payment_method,
                    Order.buyer_comment,
                    Order.track_code,
                ).order_by(Order.id)
            )
        ).all()
        counts = [
            await session.scalar(select(func.count()).select_from(table))
            for table in (OrderEvent, OutboxMessage, CallbackRequest)
        ]
    return tuple(map(tuple, orders)), tuple(counts)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@FUZZ
@given(
    request=requests(),
    pick=st.integers(0, 4),
    # Cut short one time in five: most bodies arrive whole, to reach the service.
    garble=st.one_of(st.none(), st.none(), st.none(), st.none(), st.integers(0, 10**6)),
)
async def test_changes_never_5xx_and_a_refusal_writes_nothing(api, request, pick, garble):
    path, method, body, valid = request
    numbers = await shop_orders(api, api.__dict__.setdefault("fuzz", {}))
    number = [*numbers, 999][pick]
    raw = json.dumps(body, ensure_ascii=False).encode()
    if garble is not None and raw:
        raw = raw[: garble % len(raw)]
        valid = False
    before = await snapshot(api)
    headers = {**api.auth(), "Content-Type": "application/json"}
    url = "/api" + path.replace("{number}", str(number))
    async with api.client.request(method.upper(), url, data=raw, headers=headers) as response:
        assert response.content_type == "application/json"
        status, answer = response.status, await response.json()
    assert status < 500, answer
    event(f"{method} {path}: {status}")
    documented = operation(path, method)["responses"]
    assert str(status) in documented, (status, answer)
    if status >= 400:
        assert set(answer) == {"error"} and answer["error"]["code"] and answer["error"]["message"]
        assert await snapshot(api) == before, (path, body, answer)
    else:
        schema = documented[str(status)]["content"]["application/json"]["schema"]
        assert conforms(RESOLVE(schema), answer, RESOLVE), answer
        assert set(RESOLVE(schema).get("required", ())) <= set(answer)
    if not valid:
        assert status in (400, 404, 422), (status, answer, body)


QUERY_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "paid",
            "awaiting_confirmation,cancelled",
            "2026-11-24T07:00:00Z",
            "2026-11-24",
            "50",
            "0",
            "101",
            "bjoz",
            "web-1",
        ]
    ),
)
PARAMETERS = [p["name"] for p in operation("/v1/orders", "get")["parameters"]]


@FUZZ
@given(
    query=st.lists(st.tuples(st.sampled_from([*PARAMETERS, "colour"]), QUERY_VALUES), max_size=4)
)
async def test_the_list_never_5xx(api, query):
    await shop_orders(api, api.__dict__.setdefault("fuzz", {}))
    async with api.client.get("/api/v1/orders?" + urlencode(query), headers=api.auth()) as response:
        status, answer = response.status, await response.json()
    assert status in (200, 422), answer
    if status == 200:
        page = RESOLVE({"$ref": "#/components/schemas/OrderPage"})
        assert set(page["required"]) <= set(answer)
        assert all(
            conforms(RESOLVE({"$ref": "#/components/schemas/OrderSummary"}), order, RESOLVE)
            for order in answer["orders"]
        )
    else:
        assert answer["error"]["field"]
