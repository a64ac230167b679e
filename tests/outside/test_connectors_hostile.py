"""Malformed, huge and hostile payloads: ConnectorRefused naming the field, never another
exception, never an order at a price the platform did not charge.

Signatures keep strangers out, but a platform's own payload can still be odd (a plugin's
field, an old version) and a leaked secret makes anything possible, so parsing is tested
on its own: targeted breakages first, then hypothesis mutating the recordings at random.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.storefront.connectors import (
    ConnectorOrder,
    ConnectorRefused,
    ShopifyConnector,
    TildaConnector,
    WooCommerceConnector,
)
from tests.outside.connectors_support import recording

WOO = WooCommerceConnector()
SHOPIFY = ShopifyConnector()
TILDA = TildaConnector(currency="RUB")
WOO_TOPIC = {"X-WC-Webhook-Topic": "order.created"}
SHOPIFY_TOPIC = {"X-Shopify-Topic": "orders/create"}

WOO_ORDER = json.loads(recording("woocommerce", "order_created_cod_pickup.json"))
SHOPIFY_ORDER = json.loads(recording("shopify", "orders_create.json"))
TILDA_CART = json.loads(recording("tilda", "cart_json.json"))


def changed(document: dict, path: tuple, value: Any) -> dict:
    """A deep copy of `document` with the value at `path` replaced (`...` deletes it)."""
    result = copy.deepcopy(document)
    node = result
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result


def refused(connector, headers: dict, body: bytes | dict) -> ConnectorRefused:
    if isinstance(body, dict):
        body = _dumps(body)
    with pytest.raises(ConnectorRefused) as caught:
        connector.parse_order(headers, body)
    return caught.value


ALL = [
    pytest.param(WOO, WOO_TOPIC, id="woo"),
    pytest.param(SHOPIFY, SHOPIFY_TOPIC, id="shopify"),
    pytest.param(TILDA, {}, id="tilda"),
]


@pytest.mark.parametrize(("connector", "headers"), ALL)
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{" * 200_000, id="deep-nesting"),
        pytest.param(b'{"id": ' + b"9" * 5000 + b"}", id="huge-integer"),
        pytest.param(b'{"total": NaN}', id="nan"),
        pytest.param(b"\xff\xfe\x00{", id="not-utf8"),
        pytest.param(b'{"id": 1, "line_items": "', id="broken-json"),
        pytest.param(b"[1, 2, 3]", id="json-array"),
        pytest.param(b'{"a": 1}' + b" " * (2 * 1024 * 1024), id="over-2MiB"),
    ],
)
def test_unreadable_bodies(connector, headers, body):
    with pytest.raises(ConnectorRefused):
        connector.parse_order(headers, body)


class TestWooCommerceFields:
    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            (("line_items",), "many", "line_items"),
            (("line_items",), [], "line_items"),
            (("line_items",), [WOO_ORDER["line_items"][0]] * 201, "line_items"),
            (("line_items", 0), "a line", "line_items[0]"),
            (("line_items", 0, "quantity"), True, "line_items[0].quantity"),
            (("line_items", 0, "quantity"), 0, "line_items[0].quantity"),
            (("line_items", 0, "quantity"), -3, "line_items[0].quantity"),
            (("line_items", 0, "quantity"), 1.5, "line_items[0].quantity"),
            (("line_items", 0, "quantity"), 10**6, "line_items[0].quantity"),
            (("line_items", 0, "subtotal"), "1e3", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "١١٢٥.٠٠", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "1,125.00", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "0x10", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "-1125.00", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "1125.005", "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), None, "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), {"amount": 1}, "line_items[0].subtotal"),
            (("line_items", 0, "subtotal"), "99999999999999.00", "line_items[0].subtotal"),
            (("line_items", 1, "subtotal"), "20000000000.00", "line_items[1]"),  # a unit price
            (("fee_lines", 0, "total"), "20000000000.00", "fee_lines[0].total"),
            # A line charged more than its price is not a discount.
            (("line_items", 0, "total"), "2000.00", "line_items[0]"),
            (("line_items", 0, "name"), "", "line_items[0].name"),
            (("line_items", 0, "name"), ..., "line_items[0].name"),
            (("line_items", 0, "name"), ["Свеча"], "line_items[0].name"),
            (("line_items", 0, "sku"), "S" * 65, "line_items[0].sku"),
            (("line_items", 0, "meta_data"), "Backordered", "line_items[0].meta_data"),
            (("total",), "2465.01", "total"),
            (("total",), "99999999999999999.00", "total"),
            (("total",), Decimal("1e-999999999"), "total"),
            (("total",), Decimal("1e+999999999"), "total"),
            (("fee_lines", 0, "total"), "abc", "fee_lines[0].total"),
            (("shipping_lines", 0, "total"), "-5.00", "shipping_lines[0].total"),
            (("currency",), "rub", "currency"),
            (("currency",), ..., "currency"),
            (("id",), -5, "id"),
            (("id",), "1042; DROP TABLE orders", "id"),
            (("id",), True, "id"),
            (("billing",), "Анна", "billing"),
        ],
    )
    def test_a_broken_field_is_named(self, path, value, field):
        error = refused(WOO, WOO_TOPIC, changed(WOO_ORDER, path, value))
        assert error.field == field
        assert field in str(error)

    def test_free_text_is_cut_and_cleaned_not_refused(self):
        order = changed(WOO_ORDER, ("customer_note",), "Позвоните\x00 " + "а" * 5000)
        order = changed(order, ("line_items", 0, "name"), "Свеча\x07\x00 " + "я" * 400)
        draft = WOO.parse_order(WOO_TOPIC, json.dumps(order).encode()).draft
        assert len(draft.comment) == 2000 and draft.comment.startswith("Позвоните а")
        assert "\x00" not in draft.comment
        assert len(draft.items[0].name) == 256 and draft.items[0].name.startswith("Свеча я")

    def test_a_currency_without_minor_units(self):
        """JPY has no minor unit: "1500" is 1500, "1500.50" is refused."""
        order = {
            **WOO_ORDER,
            "currency": "JPY",
            "fee_lines": [],
            "shipping_lines": [],
            "line_items": [{**WOO_ORDER["line_items"][1], "meta_data": []}],
            "total": "1200",
        }
        parsed = WOO.parse_order(WOO_TOPIC, json.dumps(order).encode())
        assert parsed.draft.items[0].unit_price == 1200 and parsed.currency == "JPY"
        broken = changed(order, ("line_items", 0, "subtotal"), "1000.50")
        assert refused(WOO, WOO_TOPIC, broken).field == "line_items[0].subtotal"

    def test_money_never_becomes_a_float(self):
        """29.35 as a JSON number is read exactly (a float would make it 29.349999...)."""
        order = json.loads(recording("woocommerce", "order_created_docs_example.json"))
        body = json.dumps(order).replace('"total": "29.35"', '"total": 29.35').encode()
        assert b'"total": 29.35' in body
        assert WOO.parse_order(WOO_TOPIC, body).draft.items[0].unit_price == 323


class TestShopifyFields:
    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            (("total_price",), "220.95", "total_price"),
            (("taxes_included",), "no", "taxes_included"),
            (("line_items", 0, "price"), "-199.00", "line_items[0].price"),
            (("line_items", 0, "discount_allocations", 0, "amount"), "500.00", "line_items[0]"),
            (("line_items", 0, "tax_lines"), {"price": "1"}, "line_items[0].tax_lines"),
            (
                ("shipping_lines", 0, "discounted_price"),
                "ten",
                "shipping_lines[0].discounted_price",
            ),
            (("line_items", 1, "sku"), None, None),  # still known by its variant: accepted
            (("id",), "gid://shopify/Order/1", "id"),
        ],
    )
    def test_a_broken_field_is_named(self, path, value, field):
        body = json.dumps(changed(SHOPIFY_ORDER, path, value)).encode()
        if field is None:
            assert isinstance(SHOPIFY.parse_order(SHOPIFY_TOPIC, body), ConnectorOrder)
            return
        assert refused(SHOPIFY, SHOPIFY_TOPIC, body).field == field


class TestTildaFields:
    @pytest.mark.parametrize(
        ("path", "value", "field"),
        [
            (("payment", "products"), ..., "payment.products"),
            (("payment", "products"), "Пуховик", "payment.products"),
            (("payment", "products"), [], "payment.products"),
            (("payment", "orderid"), ..., "payment.orderid"),
            (("payment", "orderid"), "<script>", "payment.orderid"),
            (("payment", "amount"), "99999", "payment.amount"),  # more than lines + delivery
            (("payment", "amount"), ..., "payment.amount"),
            (("payment", "products", 0, "price"), "12 000", "payment.products[0].price"),
            (("payment", "products", 0, "amount"), 13000, "payment.products[0]"),
            (("payment", "products", 0, "quantity"), "две", "payment.products[0].quantity"),
            (("payment", "products", 0, "options"), "XL", "payment.products[0].options"),
            (("payment", "products", 0), "Пуховик - две штуки", "payment.products[0]"),
            (("payment",), ["a"], "payment"),
        ],
    )
    def test_a_broken_field_is_named(self, path, value, field):
        assert refused(TILDA, {}, changed(TILDA_CART, path, value)).field == field

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(
                urlencode([("payment[orderid]", "1")] + [(f"f{i}", "x") for i in range(2100)]),
                id="too-many-fields",
            ),
            pytest.param("payment[products][5000][name]=x&payment[orderid]=1", id="index-too-big"),
            pytest.param("payment" + "[a]" * 10 + "=x", id="too-deep"),
            pytest.param("payment[orderid=1", id="malformed-key"),
            pytest.param("payment=%7Bbroken", id="payment-not-json"),
            pytest.param("payment=%22%5Cud800%22", id="lone-surrogate"),
            pytest.param("Name=%FF%FE&payment[orderid]=1", id="bad-percent-encoding"),
        ],
    )
    def test_hostile_forms(self, body):
        with pytest.raises(ConnectorRefused):
            TILDA.parse_order({}, body.encode())


# Random breakage ---------------------------------------------------------------------------

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.decimals(allow_nan=False, allow_infinity=False),  # written as bare JSON numbers
    st.sampled_from([Decimal("1e-999999999"), Decimal("1E+999999999"), Decimal("-0.00")]),
    st.text(max_size=20),
    st.sampled_from(
        ["1e3", "-1.00", "1.0001", "١٢٣", " 1.00", "0x10", "NaN", "", "\x00", "\ud800"]
    ),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutations(document: dict) -> st.SearchStrategy[dict]:
    paths = _paths(document)
    return st.lists(
        st.tuples(st.sampled_from(paths), st.one_of(ODD, st.just(...))), min_size=1, max_size=4
    ).map(lambda changes: _apply(document, changes))


def _apply(document: dict, changes: list) -> dict:
    result = document
    for path, value in changes:
        try:
            result = changed(result, path, value)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier change removed the place
    return result


def _outcome(connector, headers: dict, body: bytes) -> None:
    """The only outcomes allowed: an order, no order, or ConnectorRefused."""
    try:
        result = connector.parse_order(headers, body)
    except ConnectorRefused as error:
        assert str(error)
        return
    assert result is None or isinstance(result, ConnectorOrder)
    if result is not None:
        draft = result.draft
        # Whatever was accepted is whole: integer money, a SKU and a name per line.
        for item in draft.items:
            assert isinstance(item.unit_price, int) and item.unit_price >= 0
            assert 0 <= item.discount <= item.unit_price * item.quantity
            assert 1 <= len(item.sku) <= 64 and 1 <= len(item.name) <= 256
        assert isinstance(draft.delivery_cost, int) and draft.delivery_cost >= 0
        assert isinstance(draft.discount, int) and draft.discount >= 0


def _dumps(document: Any) -> bytes:
    """JSON as a platform would write it; a Decimal is written as a bare JSON number."""
    text = json.dumps(document, ensure_ascii=False, default=lambda d: f"@@{d}@@")
    text = re.sub(r'"@@([^@]*)@@"', r"\1", text)
    return text.encode("utf-8", "surrogatepass")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(_mutations(WOO_ORDER))
def test_woocommerce_never_raises_anything_else(document):
    _outcome(WOO, WOO_TOPIC, _dumps(document))


@FUZZ
@given(_mutations(SHOPIFY_ORDER))
def test_shopify_never_raises_anything_else(document):
    _outcome(SHOPIFY, SHOPIFY_TOPIC, _dumps(document))


@FUZZ
@given(_mutations(TILDA_CART))
def test_tilda_json_never_raises_anything_else(document):
    _outcome(TILDA, {}, _dumps(document))


TILDA_FORM = parse_qsl(recording("tilda", "cart_form.txt").decode())


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(TILDA_FORM) - 1), st.text(max_size=30)), min_size=1, max_size=4
    ),
    st.lists(st.tuples(st.text(max_size=30), st.text(max_size=10)), max_size=3),
)
def test_tilda_forms_never_raise_anything_else(replacements, extra):
    pairs = list(TILDA_FORM)
    for index, value in replacements:
        pairs[index] = (pairs[index][0], value)
    body = urlencode(pairs + extra).encode()
    _outcome(TILDA, {}, body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes(body):
    for connector, headers in ((WOO, WOO_TOPIC), (SHOPIFY, SHOPIFY_TOPIC), (TILDA, {})):
        _outcome(connector, headers, body)
        assert connector.handshake(headers, body) in (None, "", "ok")
        assert connector.verify(headers, body, "secret") is False


def test_decimal_json_numbers_are_exact():
    assert Decimal("0.1") + Decimal("0.2") == Decimal("0.3")  # what Decimal parsing buys us
    cart = changed(TILDA_CART, ("payment", "delivery_price"), 0.1)
    cart = changed(cart, ("payment", "amount"), "16000.10")
    order = TILDA.parse_order({}, _dumps(cart))
    assert order.draft.delivery_cost == 10
