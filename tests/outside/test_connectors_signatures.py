"""Which deliveries a connector trusts: signatures, Tilda's API key, set-up probes.

WooCommerce and Shopify sign the raw body (base64 HMAC-SHA256); Tilda signs nothing and
sends a key. Whatever the headers and body, `verify` answers True or False and never raises.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.storefront.connectors import (
    ShopifyConnector,
    SignatureInvalid,
    TildaConnector,
    WooCommerceConnector,
    verified,
)
from services.storefront.connectors.tilda import KEY_NAME
from tests.outside.connectors_support import (
    SHOPIFY_SECRET,
    TILDA_KEY,
    WOO_SECRET,
    base64_hmac,
    recording,
    shopify_headers,
    woo_headers,
)

WOO = WooCommerceConnector()
SHOPIFY = ShopifyConnector()
TILDA = TildaConnector(currency="RUB")

WOO_BODY = recording("woocommerce", "order_created_cod_pickup.json")
SHOPIFY_BODY = recording("shopify", "orders_create.json")
TILDA_FORM = recording("tilda", "cart_form.txt")
TILDA_JSON = recording("tilda", "cart_json.json")

# (connector, body, headers for it, the secret, the signature header)
SIGNED = [
    pytest.param(
        WOO, WOO_BODY, woo_headers(WOO_BODY), WOO_SECRET, "X-WC-Webhook-Signature", id="woo"
    ),
    pytest.param(
        SHOPIFY,
        SHOPIFY_BODY,
        shopify_headers(SHOPIFY_BODY),
        SHOPIFY_SECRET,
        "X-Shopify-Hmac-Sha256",
        id="shopify",
    ),
]


@pytest.mark.parametrize(("connector", "body", "headers", "secret", "name"), SIGNED)
class TestSignedPlatforms:
    def test_a_signed_body_is_verified(self, connector, body, headers, secret, name):
        assert connector.verify(headers, body, secret) is True
        verified(connector, headers, body, secret)  # no exception

    def test_header_names_in_any_case(self, connector, body, headers, secret, name):
        lowered = {key.lower(): value for key, value in headers.items()}
        assert connector.verify(lowered, body, secret) is True

    def test_a_tampered_body_is_not(self, connector, body, headers, secret, name):
        tampered = body.replace(b'"quantity": 1', b'"quantity": 9', 1)
        assert tampered != body
        assert connector.verify(headers, tampered, secret) is False
        with pytest.raises(SignatureInvalid):
            verified(connector, headers, tampered, secret)

    def test_the_wrong_secret_is_not(self, connector, body, headers, secret, name):
        assert connector.verify(headers, body, secret + "x") is False
        assert connector.verify(headers, body, "") is False

    def test_a_missing_or_broken_signature_is_not(self, connector, body, headers, secret, name):
        assert (
            connector.verify({k: v for k, v in headers.items() if k != name}, body, secret) is False
        )
        for broken in ("", "not base64!", "AAAA", base64_hmac(secret, body)[:-4], "\ud800"):
            assert connector.verify({**headers, name: broken}, body, secret) is False

    def test_a_signature_as_hex_is_not(self, connector, body, headers, secret, name):
        # Both platforms send base64; a hex digest of the right HMAC is not their signature.
        hex_digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert connector.verify({**headers, name: hex_digest}, body, secret) is False

    def test_odd_inputs_give_false_not_an_error(self, connector, body, headers, secret, name):
        assert connector.verify({name: None}, body, secret) is False  # type: ignore[dict-item]
        assert connector.verify(headers, "text", secret) is False  # type: ignore[arg-type]
        assert connector.verify({}, b"", secret) is False


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(min_size=1, max_size=300),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
    secret=st.text(min_size=1, max_size=40),
)
def test_any_change_to_a_body_breaks_its_signature(body, position, flip, secret):
    """A signature over one body verifies that body and no body differing in one byte, for
    both signing platforms and any secret."""
    index = position % len(body)
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    for connector, name in ((WOO, "X-WC-Webhook-Signature"), (SHOPIFY, "X-Shopify-Hmac-Sha256")):
        headers = {name: base64_hmac(secret, body)}
        assert connector.verify(headers, body, secret) is True
        assert connector.verify(headers, changed, secret) is False
        assert connector.verify(headers, body + b" ", secret) is False


@settings(max_examples=100, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_only_the_secret_that_signed_verifies(secret, other):
    headers = {"X-Shopify-Hmac-Sha256": base64_hmac(secret, SHOPIFY_BODY)}
    assert SHOPIFY.verify(headers, SHOPIFY_BODY, other) is (other == secret)


class TestTildaKey:
    def test_the_key_in_a_header(self):
        assert TILDA.verify({KEY_NAME: TILDA_KEY}, TILDA_FORM, TILDA_KEY) is True
        assert TILDA.verify({KEY_NAME.lower(): TILDA_KEY}, TILDA_JSON, TILDA_KEY) is True

    def test_the_key_as_a_form_field(self):
        body = TILDA_FORM + f"&{KEY_NAME}={TILDA_KEY}".encode()
        assert TILDA.verify({}, body, TILDA_KEY) is True

    def test_the_key_as_a_json_field(self):
        data = json.loads(TILDA_JSON)
        data[KEY_NAME] = TILDA_KEY
        assert TILDA.verify({}, json.dumps(data).encode(), TILDA_KEY) is True

    def test_a_wrong_or_missing_key(self):
        assert TILDA.verify({KEY_NAME: TILDA_KEY + "0"}, TILDA_FORM, TILDA_KEY) is False
        assert TILDA.verify({KEY_NAME: TILDA_KEY[:-1]}, TILDA_FORM, TILDA_KEY) is False
        assert TILDA.verify({KEY_NAME: ""}, TILDA_FORM, TILDA_KEY) is False
        assert TILDA.verify({}, TILDA_FORM, TILDA_KEY) is False
        # No key configured verifies nothing, not even a delivery with an empty key.
        assert TILDA.verify({KEY_NAME: ""}, TILDA_FORM, "") is False

    def test_a_header_wins_over_the_body(self):
        """A key in the body cannot rescue a wrong key in the header."""
        body = TILDA_FORM + f"&{KEY_NAME}={TILDA_KEY}".encode()
        assert TILDA.verify({KEY_NAME: "wrong"}, body, TILDA_KEY) is False

    def test_unreadable_bodies_are_not_verified(self):
        for body in (b"\xff\xfe", b"{broken", b"[1, 2]", b"a" * (3 * 1024 * 1024)):
            assert TILDA.verify({}, body, TILDA_KEY) is False


class TestSetUpProbes:
    def test_woocommerce_ping(self):
        ping = recording("woocommerce", "ping.txt")
        headers = {"User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)"}
        assert WOO.handshake(headers, ping) == ""  # WooCommerce only wants the 200
        assert WOO.parse_order(headers, ping) is None
        # The ping is not signed: it is answered, never verified.
        assert WOO.verify(headers, ping, WOO_SECRET) is False

    def test_an_order_is_no_probe(self):
        assert WOO.handshake(woo_headers(WOO_BODY), WOO_BODY) is None
        assert SHOPIFY.handshake(shopify_headers(SHOPIFY_BODY), SHOPIFY_BODY) is None
        assert TILDA.handshake({}, TILDA_FORM) is None
        # A signed delivery that looks like a ping is a delivery, not a probe.
        signed_ping = {"X-WC-Webhook-Signature": base64_hmac(WOO_SECRET, b"webhook_id=1")}
        assert WOO.handshake(signed_ping, b"webhook_id=1") is None

    def test_tilda_test_request(self):
        assert TILDA.handshake({}, recording("tilda", "test.txt")) == "ok"
        assert TILDA.handshake({}, b'{"test": "test"}') == "ok"
        assert TILDA.parse_order({}, recording("tilda", "test.txt")) is None
        assert TILDA.handshake({}, b"test=other") is None
        assert TILDA.handshake({}, b"\xff") is None

    def test_delivery_ids_for_dropping_redeliveries(self):
        assert WOO.delivery_id(woo_headers(WOO_BODY), WOO_BODY) == "a1b2c3d4e5f6"
        assert (
            SHOPIFY.delivery_id(shopify_headers(SHOPIFY_BODY), SHOPIFY_BODY)
            == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
        )
        assert TILDA.delivery_id({}, TILDA_FORM) == "5371930:6161583999"
        assert TILDA.delivery_id({}, TILDA_JSON) == "5371930:6161583731"
        assert WOO.delivery_id({}, WOO_BODY) is None
        assert TILDA.delivery_id({}, b"\xff") is None
