"""The API fuzzed from its own OpenAPI document (property-based, hypothesis).

Bodies generated from the request schema, and the same bodies broken (a field dropped, an
unknown one added, a value of another type, money with an exponent or too many decimals,
broken JSON). Whatever arrives: never a 5xx; a body the document calls invalid is refused
with a JSON error (4xx) and creates no order; an answer 201 is what the document promises.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.http.api.openapi import openapi_document
from tests.api.jsonschema_strategies import Resolver, conforms, strategy

DOCUMENT = openapi_document()
RESOLVE = Resolver(DOCUMENT)
REQUEST = DOCUMENT["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"][
    "schema"
]
ANSWERS = DOCUMENT["paths"]["/v1/orders"]["post"]["responses"]

# Realistic values beside the random ones, so that orders do get created too.
HINTS = {
    "buyer.phone": lambda: st.sampled_from(["+79161234567", "8 (916) 123-45-67", "+380501234567"]),
    "buyer.email": lambda: st.sampled_from(["ivan@example.com", "a.b@shop.example.org"]),
    "items[].unit_price": lambda: st.sampled_from(["0", "1.50", "199.90", "10000000000"]),
    "delivery.cost": lambda: st.sampled_from(["0", "300.00", None]),
}
valid_bodies = strategy(REQUEST, RESOLVE, hints=HINTS)

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
    st.sampled_from(["1e3", "-1.00", "1.0001", "١٢٣", " 1.00", "0x10", "NaN"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            found += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _paths(sub, (*prefix, index))
    return found


@st.composite
def broken_bodies(draw) -> Any:
    body = draw(valid_bodies)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        how = draw(st.sampled_from(["drop", "extra", "replace", "root"]))
        if how == "root" or not paths:
            return draw(ODD_VALUES)
        path = draw(st.sampled_from(paths))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        if how == "drop":
            del parent[path[-1]]
        elif how == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(ODD_VALUES)
        else:
            parent[path[-1]] = draw(ODD_VALUES)
    return body


def _encode(body: Any, garble: int | None) -> bytes:
    raw = json.dumps(body, ensure_ascii=False).encode()
    if garble is not None and raw:
        raw = raw[: garble % len(raw)]  # cut short: not JSON any more
    return raw


def _check_created(body: dict) -> None:
    created = RESOLVE(ANSWERS["201"]["content"]["application/json"]["schema"])
    assert set(created["required"]) <= set(body)
    one = RESOLVE(created["properties"]["orders"]["items"])
    for order in body["orders"]:
        assert set(one["required"]) <= set(order)
        assert conforms(one["properties"]["total"], order["total"], RESOLVE)


async def _post(api, raw: bytes) -> tuple[int, Any]:
    headers = {**api.auth(), "Content-Type": "application/json"}
    async with api.client.post("/api/v1/orders", data=raw, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@FUZZ
@given(body=st.one_of(valid_bodies, broken_bodies()), garble=st.none() | st.integers(0, 10**6))
async def test_no_5xx_and_no_order_from_an_invalid_request(api, body, garble):
    # given
    before = await api.order_count()
    valid = garble is None and conforms(REQUEST, body, RESOLVE)
    # when
    status, answer = await _post(api, _encode(body, garble))
    # then
    assert status < 500, answer
    created = await api.order_count() - before
    if status == 201:
        assert valid, body
        _check_created(answer)
        assert created == len(answer["orders"])
    else:
        assert created == 0
        assert str(status) in ANSWERS, status
        assert set(answer) == {"error"} and answer["error"]["code"] and answer["error"]["message"]
    if not valid:
        assert status in (400, 422), (status, answer, body)
