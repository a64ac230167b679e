"""Tilda: orders in from the cart's webhook; no way back (Tilda has no order status API).

From Tilda's public help, help-ru.tilda.cc/forms/webhook ("Webhook: приём данных из форм на
свой скрипт") and help-ru.tilda.cc/forms/marketplace/tech (how a key is sent):
- Tilda POSTs each form or cart submission to the webhook URL over HTTPS. Form fields come
  under the names the shop gave them (Tilda's defaults: Name, Phone, Email); `tranid`
  identifies the submission, `formid` the form.
- When the webhook is connected Tilda sends `test=test` and expects 200 OK (we answer "ok").
  It waits five seconds for an answer and tries twice more, a minute apart.
- Tilda signs nothing. A key can be sent in a header or as a field of the body, under a
  name that is set with it: ShopBot asks for the name `X-Shopbot-Key` (KEY_NAME) with a key
  it makes, and accepts it in either place. That key is the only proof that a delivery
  came from the shop's Tilda, so a delivery without it is not verified.

The cart's part of the body is not laid out in that help page; it is read as receivers of
Tilda's webhook read it in public code: `payment` with `orderid`, `amount` (what the buyer
pays), `products` and, with delivery, `delivery`, `delivery_price`, `delivery_address`;
`paymentsystem` beside it. The body is a form (the default) or JSON; in a form `payment`
comes as PHP-style keys (`payment[orderid]`) or as one JSON string; products come as
objects (name, quantity, price, amount, sku, options) or as text lines
"Name - 2x500 = 1000". All of these are taken.

Tilda's payload carries no currency: the connector is built with the shop's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.orders.drafts import MAX_ITEMS, BuyerDraft, ItemDraft, OrderDraft
from services.outside.http import Transport
from services.storefront.connectors import credentials as creds
from services.storefront.connectors.base import (
    ConnectorOrder,
    ConnectorRefused,
    CredentialField,
    PlatformStatus,
    header,
    same_secret,
)
from services.storefront.connectors.methods import delivery_method, payment_method
from services.storefront.connectors.payload import (
    Node,
    check_size,
    clean_text,
    currency_code,
    load_form,
    load_json,
    looks_like_json,
    split_line,
)

PLATFORM = "tilda"
KEY_NAME = "X-Shopbot-Key"
TEST_ANSWER = "ok"
# Tilda's payment systems for paying at the door and by bank transfer; "" is a cart without
# a payment step (the shop agrees payment with the buyer, in practice on delivery).
CASH_SYSTEMS = ("", "cash")
BANK_SYSTEMS = ("banktransfer",)
_TEXT_LINE = re.compile(
    r"^(?P<name>.+?) - (?P<quantity>[0-9]{1,6})x(?P<price>[0-9]{1,13}(?:\.[0-9]{1,3})?)"
    r" = (?P<amount>[0-9]{1,13}(?:\.[0-9]{1,3})?)$"
)
_BUYER_FIELDS = {
    "name": ("name", "fio", "fullname"),
    "phone": ("phone", "tel", "telephone"),
    "email": ("email", "e-mail", "mail"),
    "comment": ("comment", "comments", "message", "textarea"),
    "address": ("address",),
}


class TildaConnector:
    platform = PLATFORM
    secret_fields = (CredentialField("api_key", f"Webhook API key (sent as {KEY_NAME})"),)
    webhook_secret_field = "api_key"
    sends: frozenset[PlatformStatus] = frozenset()  # Tilda has no API to hear statuses

    def __init__(self, *, currency: str):
        self.currency = currency_code(currency, "currency")

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return {"api_key": creds.required(credentials, "api_key")}

    def handshake(self, headers: Mapping[str, str], body: bytes) -> str | None:
        try:
            fields = _fields(body)
        except ConnectorRefused:
            return None
        if fields.get("test") == "test" and "payment" not in fields:
            return TEST_ANSWER
        return None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        given = header(headers, KEY_NAME)
        if given is None:
            try:
                given = _field(_fields(body), KEY_NAME)
            except ConnectorRefused:
                return False
        return same_secret(given, secret)

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        try:
            tranid = _fields(body).get("tranid")
        except ConnectorRefused:
            return None
        return tranid[:128] if isinstance(tranid, str) and tranid else None

    def parse_order(self, headers: Mapping[str, str], body: bytes) -> ConnectorOrder | None:
        fields = _fields(body)
        payment = fields.get("payment")
        if payment is None or payment == "":
            return None  # a form without a cart (a question, a call-back request): no order
        if isinstance(payment, str):
            # The cart as one JSON string; "surrogatepass" so that a lone surrogate is refused
            # as a bad body rather than raising here.
            payment = load_json(payment.encode("utf-8", "surrogatepass"))
        return self._order(Node(fields), Node(payment, "payment"))

    def lead(self, body: bytes) -> dict[str, str] | None:
        """A form without a cart (a call-back request, seed 002's one-click buy): the
        buyer's name, phone and comment, or None when it is a cart or has no phone."""
        try:
            fields = _fields(body)
        except ConnectorRefused:
            return None
        if fields.get("payment") not in (None, ""):
            return None
        node = Node(fields)
        phone = _text(node, "phone", 64)
        if not phone:
            return None
        return {
            "name": _text(node, "name", 128),
            "phone": phone,
            "comment": _text(node, "comment", 2000),
        }

    async def send_status(
        self,
        transport: Transport,
        credentials: Mapping[str, str],
        *,
        platform_order_id: str,
        status: PlatformStatus,
        note: str | None = None,
        carrier: str | None = None,
        track_code: str | None = None,
    ) -> None:
        """Does nothing: Tilda keeps no order statuses to update and offers no API for them
        (its API only reads pages). The buyer hears of status changes from ShopBot itself."""
        return None

    def _order(self, fields: Node, payment: Node) -> ConnectorOrder:
        currency = self.currency
        order_id = payment.identifier("orderid")
        items = [self._item(product) for product in _products(payment)]
        if not items:
            raise ConnectorRefused("an order needs at least one item", "payment.products")
        delivery_cost = payment.money_or_zero("delivery_price", currency)
        total = payment.money("amount", currency)
        # Promo codes and discounts reach us as the difference between the lines and what
        # the buyer pays; Tilda never charges more than its lines and delivery.
        discount = sum(item.line_total for item in items) + delivery_cost - total
        if discount < 0:
            raise ConnectorRefused(
                f"the order's amount is above its lines and delivery by {-discount} minor units",
                "payment.amount",
            )
        delivery = payment.text("delivery", 200)
        comment = "\n".join(
            part
            for part in (_text(fields, "comment", 2000), payment.text("delivery_comment", 1000))
            if part
        )
        draft = OrderDraft(
            buyer=BuyerDraft(
                name=_text(fields, "name", 128) or payment.text("delivery_fio", 128),
                phone=_text(fields, "phone", 64) or None,
                email=_text(fields, "email", 320) or None,
            ),
            items=items,
            payment_method=payment_method(
                fields.text("paymentsystem", 100) or payment.text("sys", 100),
                cash=CASH_SYSTEMS,
                bank=BANK_SYSTEMS,
            ),
            delivery_method=delivery_method(delivery) if delivery else "pickup",
            delivery_address=payment.text("delivery_address", 1000)
            or _text(fields, "address", 1000),
            delivery_cost=delivery_cost,
            comment=clean_text(comment, 2000),
            external_id=f"{PLATFORM}:{order_id}",
            storefront_number=order_id,
            discount=discount,
        )
        return ConnectorOrder(
            platform=PLATFORM,
            platform_order_id=order_id,
            platform_order_number=order_id,
            draft=draft,
            raw_status="",  # Tilda sends no order status
            currency=currency,
        )

    def _item(self, product: Node) -> ItemDraft:
        name = product.text("name", 200)
        if not name:
            raise ConnectorRefused("a product name is needed", product.at("name"))
        options = [
            f"{option.text('option', 60)}: {option.text('variant', 60)}"
            for option in product.nodes("options", limit=20)
            if option.text("variant", 60)
        ]
        if options:
            name = clean_text(f"{name} ({', '.join(options)})", 256)
        quantity = product.quantity("quantity")
        before = product.money("price", self.currency) * quantity
        after = before if product.raw("amount") is None else product.money("amount", self.currency)
        unit_price, discount = split_line(before, after, quantity, product.path)
        sku = product.text("sku", 200) or product.text("externalid", 200)
        if len(sku) > 64:
            raise ConnectorRefused("a SKU of at most 64 characters is needed", product.at("sku"))
        return ItemDraft(
            # A product without an SKU is known by its name, the only identity Tilda gives it.
            sku=sku or clean_text(name, 64),
            name=name,
            quantity=quantity,
            unit_price=unit_price,
            discount=discount,
        )


def _fields(body: bytes) -> dict[str, Any]:
    check_size(body)
    data = load_json(body) if looks_like_json(body) else load_form(body)
    if not isinstance(data, dict):
        raise ConnectorRefused("the body is not a set of fields")
    return data


def _field(fields: Mapping[str, Any], name: str) -> str | None:
    """A top-level field by name in any case (shops type field names as they like)."""
    wanted = name.lower()
    for key, value in fields.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def _text(fields: Node, kind: str, max_length: int) -> str:
    for name in _BUYER_FIELDS[kind]:
        value = _field(fields.data, name)
        if value:
            return clean_text(value, max_length)
    return ""


def _products(payment: Node) -> list[Node]:
    """The cart's lines as objects; text lines ("Name - 2x500 = 1000") are read into the
    same shape."""
    listed = payment.raw("products")
    if not isinstance(listed, list):
        raise ConnectorRefused("a list of products is needed", payment.at("products"))
    if len(listed) > MAX_ITEMS:
        raise ConnectorRefused(f"more than {MAX_ITEMS} products", payment.at("products"))
    products = []
    for index, entry in enumerate(listed):
        path = f"{payment.at('products')}[{index}]"
        if isinstance(entry, str):
            match = _TEXT_LINE.match(entry.strip())
            if match is None:
                raise ConnectorRefused("a product line like 'Name - 2x500 = 1000'", path)
            entry = match.groupdict()
        products.append(Node(entry, path))
    return products
