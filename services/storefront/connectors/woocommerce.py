"""WooCommerce: orders in by webhook, statuses out through the REST API v3.

Written from WooCommerce's public documentation:
- REST API v3, orders and order notes (woocommerce/woocommerce-rest-api-docs,
  source/includes/wp-api-v3/_orders.md, _order-notes.md; developer.woocommerce.com
  /docs/apis/rest-api/): order properties, statuses `pending, processing, on-hold,
  completed, cancelled, refunded, failed`, `PUT /wp-json/wc/v3/orders/<id>`,
  `POST /wp-json/wc/v3/orders/<id>/notes` with `customer_note`, and the error shape
  `{"code", "message", "data": {"status"}}`.
- Authentication (_authentication.md): over HTTPS, HTTP Basic with the consumer key and
  secret. Over plain HTTP WooCommerce wants OAuth 1.0a instead, so we only call HTTPS.
- Webhooks (_webhooks.md, and WC_Webhook::deliver/deliver_ping in WooCommerce itself):
  a JSON body that is exactly the REST API's order; `X-WC-Webhook-Topic` (order.created,
  order.updated); `X-WC-Webhook-Signature`, the base64 HMAC-SHA256 of the raw body with the
  webhook's secret; `X-WC-Webhook-Delivery-ID`. On creation WooCommerce pings the URL with
  the form body `webhook_id=N`, no signature, and saves the webhook only on a 200. After
  five failed deliveries in a row it disables the webhook, so the edge answers 2xx even to
  an order it refuses (and keeps it for the shop to see).

The store URL is each shop's own, so the API's base URL comes with the credentials.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping

from services.orders.drafts import MAX_ITEMS, MAX_PRICE, BuyerDraft, ItemDraft, OrderDraft
from services.outside.http import Transport
from services.storefront.connectors import credentials as creds
from services.storefront.connectors.base import (
    ConnectorOrder,
    ConnectorRefused,
    CredentialField,
    PlatformError,
    PlatformStatus,
    header,
    hmac_sha256_base64_matches,
)
from services.storefront.connectors.methods import delivery_method, payment_method
from services.storefront.connectors.payload import (
    Node,
    check_size,
    clean_text,
    currency_code,
    load_json,
    positive_int,
    split_line,
)
from services.storefront.connectors.remote import call

PLATFORM = "woocommerce"
SIGNATURE = "X-WC-Webhook-Signature"
TOPIC = "X-WC-Webhook-Topic"
DELIVERY = "X-WC-Webhook-Delivery-ID"
ORDER_TOPICS = frozenset({"order.created", "order.updated"})
API_PATH = "/wp-json/wc/v3/orders"
_PING = re.compile(rb"^webhook_id=[0-9]{1,20}$")
_ORDER_ID = re.compile(r"^[1-9][0-9]{0,19}$")

# Our status -> WooCommerce's. WooCommerce has no "shipped": "completed" is its word for an
# order sent on its way, and the track code goes in a note the buyer sees.
STATUS_FOR = {
    PlatformStatus.PROCESSING: "processing",
    PlatformStatus.SHIPPED: "completed",
    PlatformStatus.COMPLETED: "completed",
    PlatformStatus.CANCELLED: "cancelled",
    PlatformStatus.REFUNDED: "refunded",  # the status only: money moves on the payment side
}

# WooCommerce core gateways: "cod" cash on delivery, "bacs" direct bank transfer, "cheque"
# a cheque (paid before shipping, like a transfer). An order with nothing to pay has "".
CASH_GATEWAYS = ("cod", "")
BANK_GATEWAYS = ("bacs", "cheque")

# WooCommerce marks a line sold on backorder with a meta entry named "Backordered" (in the
# store's language); pre-order plugins add their own keys.
_LATER = re.compile(r"backorder|pre[-_ ]?order")


class WooCommerceConnector:
    platform = PLATFORM
    secret_fields = (
        CredentialField("store_url", "Store URL", secret=False),
        CredentialField("consumer_key", "REST API consumer key"),
        CredentialField("consumer_secret", "REST API consumer secret"),
        CredentialField("webhook_secret", "Webhook secret"),
    )
    webhook_secret_field = "webhook_secret"
    sends = frozenset(STATUS_FOR)

    def __init__(self, *, allow_loopback_http: bool = False):
        # True only for a store on this machine (tests, the demo): plain HTTP to loopback.
        self._allow_loopback_http = allow_loopback_http

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        url = creds.required(credentials, "store_url", max_length=creds.MAX_URL_LENGTH)
        return {
            "store_url": creds.store_url(
                url, "store_url", allow_loopback_http=self._allow_loopback_http
            ),
            "consumer_key": creds.required(credentials, "consumer_key"),
            "consumer_secret": creds.required(credentials, "consumer_secret"),
            "webhook_secret": creds.required(credentials, "webhook_secret"),
        }

    def handshake(self, headers: Mapping[str, str], body: bytes) -> str | None:
        if _is_ping(body) and header(headers, SIGNATURE) is None:
            return ""  # WooCommerce looks at the status code only
        return None

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return hmac_sha256_base64_matches(secret, body, header(headers, SIGNATURE))

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        value = header(headers, DELIVERY)
        return value[:128] if value else None

    def parse_order(self, headers: Mapping[str, str], body: bytes) -> ConnectorOrder | None:
        check_size(body)
        if _is_ping(body) or header(headers, TOPIC) not in ORDER_TOPICS:
            return None
        return order_from(Node(load_json(body)))

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
        """Sets the order's status, then adds the note the buyer sees (the track code and
        `note`) when there is one: the status first because setting it twice is harmless,
        the note last because adding it twice is not."""
        keys = creds.checked(PLATFORM, self.check_credentials, credentials)
        order_id = _order_id(platform_order_id)
        target = STATUS_FOR[PlatformStatus(status)]
        url = f"{keys['store_url']}{API_PATH}/{order_id}"
        token = base64.b64encode(f"{keys['consumer_key']}:{keys['consumer_secret']}".encode())
        auth = {"Authorization": f"Basic {token.decode()}"}
        await call(
            transport,
            PLATFORM,
            "PUT",
            url,
            headers=auth,
            payload={"status": target},
            what=f"setting order {order_id} to {target}",
        )
        text = note_text(note, carrier, track_code)
        if text:
            await call(
                transport,
                PLATFORM,
                "POST",
                f"{url}/notes",
                headers=auth,
                payload={"note": text, "customer_note": True},
                what=f"adding a note to order {order_id}",
            )


def note_text(note: str | None, carrier: str | None, track_code: str | None) -> str:
    """The note the buyer sees: the shop's words, then "CDEK: 1234567890" (no sentence, so
    no language to choose)."""
    lines = []
    if note and note.strip():
        lines.append(clean_text(note, 2000))
    if track_code and track_code.strip():
        code = clean_text(track_code, 100)
        lines.append(f"{clean_text(carrier, 100)}: {code}" if carrier and carrier.strip() else code)
    return "\n".join(lines)


def _is_ping(body: bytes) -> bool:
    if not isinstance(body, bytes | bytearray) or len(body) > 64:
        return False
    return _PING.match(bytes(body).strip()) is not None


def _order_id(value: str) -> str:
    if not isinstance(value, str) or not _ORDER_ID.match(value):
        raise PlatformError(PLATFORM, f"not a WooCommerce order id: {str(value)[:30]!r}")
    return value


def order_from(order: Node) -> ConnectorOrder:
    """A WooCommerce order (REST API v3 shape) as a ConnectorOrder.

    Amounts are taken with their taxes: WooCommerce keeps line totals without tax and the
    tax beside them, while the buyer pays both, and ShopBot has no separate tax. The lines,
    fees and shipping must add up to the order's `total`, or the order is refused rather
    than recorded at another price."""
    order_id = order.numeric_id("id")
    currency = currency_code(order.raw("currency"), "currency")
    items: list[ItemDraft] = []
    discount = 0
    for line in order.nodes("line_items", limit=MAX_ITEMS):
        items.append(_item(line, currency))
    if not items:
        raise ConnectorRefused("an order needs at least one item", "line_items")
    for fee in order.nodes("fee_lines", limit=MAX_ITEMS):
        amount = fee.money("total", currency, negative=True) + fee.money_or_zero(
            "total_tax", currency, negative=True
        )
        if amount < 0:
            discount -= amount  # a negative fee is a discount on the whole order
        elif amount > MAX_PRICE:
            raise ConnectorRefused("the fee is too large", fee.at("total"))
        elif amount > 0:
            name = _name(fee, "name") or "Fee"
            items.append(ItemDraft(sku="fee", name=name, quantity=1, unit_price=amount))
    if len(items) > MAX_ITEMS:
        raise ConnectorRefused(f"more than {MAX_ITEMS} lines with fees", "fee_lines")
    shipping = order.nodes("shipping_lines", limit=20)
    delivery_cost = sum(
        line.money("total", currency) + line.money_or_zero("total_tax", currency)
        for line in shipping
    )
    total = order.money("total", currency)
    lines_total = sum(item.line_total for item in items) - discount + delivery_cost
    if lines_total != total:
        raise ConnectorRefused(
            f"the lines, fees and shipping add up to {lines_total} minor units of {currency},"
            f" the order's total is {total}",
            "total",
        )
    method = (
        delivery_method(shipping[0].text("method_id", 100), shipping[0].text("method_title", 200))
        if shipping
        else "pickup"  # nothing is shipped: the buyer takes it (or it is not physical)
    )
    draft = OrderDraft(
        buyer=_buyer(order),
        items=items,
        payment_method=payment_method(
            order.text("payment_method", 100), cash=CASH_GATEWAYS, bank=BANK_GATEWAYS
        ),
        delivery_method=method,
        delivery_address=_address(order),
        delivery_cost=delivery_cost,
        comment=order.text("customer_note", 2000),
        external_id=f"{PLATFORM}:{order_id}",
        storefront_number=order.text("number", 64) or order_id,
        discount=discount,
    )
    return ConnectorOrder(
        platform=PLATFORM,
        platform_order_id=order_id,
        platform_order_number=order.text("number", 64) or order_id,
        draft=draft,
        raw_status=order.text("status", 64),
        currency=currency,
    )


def _item(line: Node, currency: str) -> ItemDraft:
    name = _name(line, "name")
    if not name:
        raise ConnectorRefused("a product name is needed", line.at("name"))
    quantity = line.quantity("quantity")
    before = line.money("subtotal", currency) + line.money_or_zero("subtotal_tax", currency)
    after = line.money("total", currency) + line.money_or_zero("total_tax", currency)
    unit_price, discount = split_line(before, after, quantity, line.path)
    return ItemDraft(
        sku=_sku(line),
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        availability="made_to_order" if _later(line) else "in_stock",
        discount=discount,
    )


def _name(node: Node, key: str) -> str:
    # WooCommerce sends product names HTML-escaped ("Ship Your Idea &ndash; Color: Black").
    return clean_text(html.unescape(node.text(key, 2000)), 256)


def _sku(line: Node) -> str:
    """The product's SKU; a product without one is known by its WooCommerce ids."""
    sku = line.text("sku", 200)
    if len(sku) > 64:
        raise ConnectorRefused("a SKU of at most 64 characters is needed", line.at("sku"))
    if sku:
        return sku
    product = positive_int(line.raw("product_id"))
    variation = positive_int(line.raw("variation_id"))
    if product is not None:
        return f"product-{product}-{variation}" if variation else f"product-{product}"
    return f"line-{line.identifier('id')}"


def _later(line: Node) -> bool:
    for entry in line.nodes("meta_data", limit=200):
        key = entry.raw("key")
        if isinstance(key, str) and _LATER.search(key.lower()):
            return True
    return False


def _buyer(order: Node) -> BuyerDraft:
    billing = order.node("billing") or Node({}, "billing")
    shipping = order.node("shipping") or Node({}, "shipping")
    name = " ".join(
        part for part in (billing.text("first_name", 64), billing.text("last_name", 64)) if part
    ) or " ".join(
        part for part in (shipping.text("first_name", 64), shipping.text("last_name", 64)) if part
    )
    # Phone and e-mail as given: the order service reads them with the shop's country.
    phone = billing.text("phone", 64) or shipping.text("phone", 64)
    email = billing.text("email", 320)
    return BuyerDraft(name=clean_text(name, 128), phone=phone or None, email=email or None)


_ADDRESS_PARTS = ("company", "address_1", "address_2", "city", "state", "postcode", "country")


def _address(order: Node) -> str:
    """The shipping address when the order has one, else the billing address."""
    for key in ("shipping", "billing"):
        place = order.node(key)
        if place is None:
            continue
        parts = [place.text(part, 200) for part in _ADDRESS_PARTS]
        if any(parts[1:4]):  # a street or a city, not only a country
            return clean_text(", ".join(part for part in parts if part), 1000)
    return ""
