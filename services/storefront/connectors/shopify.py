"""Shopify: orders in by webhook, fulfilment and cancellation out through the Admin REST API.

Written from Shopify's public documentation (shopify.dev):
- Webhooks (/docs/apps/build/webhooks/verify-deliveries, delivery-structure): every HTTPS
  delivery carries `X-Shopify-Hmac-SHA256`, the base64 HMAC-SHA256 of the raw body keyed with
  the app's client secret, `X-Shopify-Topic` (orders/create, orders/updated) and
  `X-Shopify-Webhook-Id` to drop redeliveries (Shopify retries 8 times over 4 hours).
- The Order resource (/docs/api/admin-rest/<version>/resources/order): id, name ("#1001"),
  email, phone, customer, shipping_address, line_items (sku, quantity, price, tax_lines,
  discount_allocations), shipping_lines (price, discounted_price, tax_lines),
  taxes_included, total_price, currency, payment_gateway_names, financial_status, note.
- Fulfilment (/resources/fulfillmentorder, /resources/fulfillment): list an order's
  fulfillment orders (`GET orders/{id}/fulfillment_orders.json`), then fulfil the open ones
  with `POST fulfillments.json` {line_items_by_fulfillment_order, tracking_info, notify_customer};
  one fulfilment per location. Cancel: `POST orders/{id}/cancel.json`.
- Authentication: `X-Shopify-Access-Token` (a custom app's Admin API access token).
- Rate limits (/docs/api/admin-rest/usage/rate-limits): 429 with `Retry-After` in seconds,
  possibly fractional ("2.0").

The REST Admin API is "legacy" since October 2024 (new public apps must use GraphQL), but
stays available to custom apps, which is how a shop connects its own store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.orders.drafts import MAX_ITEMS, MAX_PRICE, BuyerDraft, ItemDraft, OrderDraft
from services.outside.http import Transport
from services.refusals import invalid
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
from services.storefront.connectors.remote import call, reply_json

PLATFORM = "shopify"
# Pinned: a stable version Shopify supports for at least twelve months from its release
# (versioning: four releases a year, each supported a year). Move it on with each review.
API_VERSION = "2026-07"
SIGNATURE = "X-Shopify-Hmac-Sha256"
TOPIC = "X-Shopify-Topic"
WEBHOOK_ID = "X-Shopify-Webhook-Id"
ORDER_TOPICS = frozenset({"orders/create", "orders/updated"})
_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
_ORDER_ID = re.compile(r"^[1-9][0-9]{0,19}$")
# Fulfillment orders that can still be fulfilled (FulfillmentOrder.status).
FULFILLABLE = frozenset({"open", "in_progress"})

# Shopify's manual payment methods as they appear in payment_gateway_names.
CASH_GATEWAYS = ("", "cash on delivery (cod)", "cash on delivery", "cash_on_delivery", "cod")
BANK_GATEWAYS = ("bank deposit", "bank_deposit", "money order", "money_order", "manual")
_LATER = re.compile(r"backorder|pre[-_ ]?order")


class ShopifyConnector:
    platform = PLATFORM
    secret_fields = (
        CredentialField("shop_domain", "Shop domain (name.myshopify.com)", secret=False),
        CredentialField("access_token", "Admin API access token"),
        CredentialField("client_secret", "API secret key (signs webhooks)"),
    )
    webhook_secret_field = "client_secret"
    # Shopify has no settable "processing" and a refund there moves money, which is the
    # payment side's business: neither is sent.
    sends = frozenset({PlatformStatus.SHIPPED, PlatformStatus.COMPLETED, PlatformStatus.CANCELLED})

    def __init__(self, *, api_base: str | None = None):
        # None: https://<shop>.myshopify.com, as in production. A base of our own points
        # the connector at a fake Shopify on loopback (tests).
        self._api_base = api_base.rstrip("/") if api_base else None

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return {
            "shop_domain": shop_domain(creds.required(credentials, "shop_domain")),
            "access_token": creds.required(credentials, "access_token"),
            "client_secret": creds.required(credentials, "client_secret"),
        }

    def handshake(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return None  # Shopify sends no set-up probe

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        return hmac_sha256_base64_matches(secret, body, header(headers, SIGNATURE))

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        value = header(headers, WEBHOOK_ID)
        return value[:128] if value else None

    def parse_order(self, headers: Mapping[str, str], body: bytes) -> ConnectorOrder | None:
        check_size(body)
        if header(headers, TOPIC) not in ORDER_TOPICS:
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
        """Shipped and completed fulfil what is still open (with the tracking, and Shopify's
        own shipping e-mail when shipped); cancelled cancels the order. `note` has no place
        in Shopify's fulfilment and is not sent. The other statuses send nothing."""
        status = PlatformStatus(status)
        if status not in self.sends:
            return
        keys = creds.checked(PLATFORM, self.check_credentials, credentials)
        if not isinstance(platform_order_id, str) or not _ORDER_ID.match(platform_order_id):
            given = str(platform_order_id)[:30]
            raise PlatformError(PLATFORM, f"not a Shopify order id: {given!r}")
        api = f"{self._api_base or 'https://' + keys['shop_domain']}/admin/api/{API_VERSION}"
        auth = {"X-Shopify-Access-Token": keys["access_token"]}
        if status is PlatformStatus.CANCELLED:
            await call(
                transport,
                PLATFORM,
                "POST",
                f"{api}/orders/{platform_order_id}/cancel.json",
                headers=auth,
                payload={"reason": "other"},
                what=f"cancelling order {platform_order_id}",
            )
            return
        await self._fulfil(
            transport,
            api,
            auth,
            platform_order_id,
            notify=status is PlatformStatus.SHIPPED,
            carrier=carrier,
            track_code=track_code,
        )

    async def _fulfil(
        self,
        transport: Transport,
        api: str,
        auth: dict[str, str],
        order_id: str,
        *,
        notify: bool,
        carrier: str | None,
        track_code: str | None,
    ) -> None:
        what = f"fulfilling order {order_id}"
        reply = await call(
            transport,
            PLATFORM,
            "GET",
            f"{api}/orders/{order_id}/fulfillment_orders.json",
            headers=auth,
            what=what,
        )
        by_location = _open_fulfillment_orders(reply_json(PLATFORM, reply, what), what)
        # Nothing open: fulfilled already (a retry after a lost answer, or the shop did it in
        # Shopify's admin). Nothing to do.
        for fulfillment_order_ids in by_location.values():
            fulfillment: dict[str, Any] = {
                "line_items_by_fulfillment_order": [
                    {"fulfillment_order_id": fo_id} for fo_id in fulfillment_order_ids
                ],
                "notify_customer": notify,
            }
            if track_code and track_code.strip():
                tracking = {"number": clean_text(track_code, 100)}
                if carrier and carrier.strip():
                    tracking["company"] = clean_text(carrier, 100)
                fulfillment["tracking_info"] = tracking
            await call(
                transport,
                PLATFORM,
                "POST",
                f"{api}/fulfillments.json",
                headers=auth,
                payload={"fulfillment": fulfillment},
                what=what,
            )


def shop_domain(text: str) -> str:
    """A shop's myshopify.com domain, as given or as a URL ("https://x.myshopify.com/")."""
    domain = text.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _SHOP_DOMAIN.match(domain):
        raise invalid("shop_domain", "the shop's domain, like your-shop.myshopify.com")
    return domain


def _open_fulfillment_orders(data: Any, what: str) -> dict[int, list[int]]:
    """The fulfillment orders still to fulfil, grouped by their location (a fulfilment
    covers one location's fulfillment orders only)."""
    listed = data.get("fulfillment_orders") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        raise PlatformError(PLATFORM, f"{what}: the store's answer has no fulfillment_orders")
    groups: dict[int, list[int]] = {}
    for entry in listed[:250]:
        if not isinstance(entry, dict) or entry.get("status") not in FULFILLABLE:
            continue
        actions = entry.get("supported_actions")
        if isinstance(actions, list) and "create_fulfillment" not in actions:
            continue
        fo_id = positive_int(entry.get("id"))
        if fo_id is None:
            raise PlatformError(PLATFORM, f"{what}: a fulfillment order without an id")
        location = positive_int(entry.get("assigned_location_id")) or 0
        groups.setdefault(location, []).append(fo_id)
    return groups


def order_from(order: Node) -> ConnectorOrder:
    """A Shopify order (Admin REST shape, as webhooks send it) as a ConnectorOrder.

    Amounts in the shop's currency, taxes in (added to the lines when the shop's prices
    exclude them), discounts as Shopify allocated them to each line and shipping line. The
    lines, shipping and tip must add up to `total_price`, or the order is refused."""
    order_id = order.numeric_id("id")
    currency = currency_code(order.raw("currency"), "currency")
    taxes_included = order.flag("taxes_included")
    lines = order.nodes("line_items", limit=MAX_ITEMS)
    items = [_item(line, currency, taxes_included) for line in lines]
    if not items:
        raise ConnectorRefused("an order needs at least one item", "line_items")
    tip = order.money_or_zero("total_tip_received", currency)
    if tip > MAX_PRICE:
        raise ConnectorRefused("the tip is too large", "total_tip_received")
    if tip:
        items.append(ItemDraft(sku="tip", name="Tip", quantity=1, unit_price=tip))
    shipping = order.nodes("shipping_lines", limit=20)
    delivery_cost = sum(_shipping_cost(line, currency, taxes_included) for line in shipping)
    total = order.money("total_price", currency)
    lines_total = sum(item.line_total for item in items) + delivery_cost
    if lines_total != total:
        raise ConnectorRefused(
            f"the lines and shipping add up to {lines_total} minor units of {currency},"
            f" the order's total_price is {total}",
            "total_price",
        )
    if shipping:
        first = shipping[0]
        method = delivery_method(
            first.text("code", 200), first.text("title", 200), first.text("delivery_category", 64)
        )
    else:
        method = "pickup"  # nothing to ship
    draft = OrderDraft(
        buyer=_buyer(order),
        items=items,
        payment_method=payment_method(_gateway(order), cash=CASH_GATEWAYS, bank=BANK_GATEWAYS),
        delivery_method=method,
        delivery_address=_address(order.node("shipping_address")),
        delivery_cost=delivery_cost,
        comment=order.text("note", 2000),
        external_id=f"{PLATFORM}:{order_id}",
        storefront_number=order.text("name", 64) or order_id,
    )
    return ConnectorOrder(
        platform=PLATFORM,
        platform_order_id=order_id,
        platform_order_number=order.text("name", 64) or order_id,
        draft=draft,
        raw_status=order.text("financial_status", 64),
        currency=currency,
    )


def _item(line: Node, currency: str, taxes_included: bool) -> ItemDraft:
    name = line.text("name", 256) or line.text("title", 256)
    if not name:
        raise ConnectorRefused("a product name is needed", line.at("name"))
    quantity = line.quantity("quantity")
    unit = line.money("price", currency)
    tax = 0 if taxes_included else _taxes(line, currency)
    allocations = line.nodes("discount_allocations", limit=50)
    if allocations or line.raw("total_discount") is None:
        discount = sum(entry.money("amount", currency) for entry in allocations)
    else:
        discount = line.money("total_discount", currency)  # older payloads
    before = unit * quantity + tax
    unit_price, line_discount = split_line(before, before - discount, quantity, line.path)
    return ItemDraft(
        sku=_sku(line),
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        availability="made_to_order" if _later(line) else "in_stock",
        discount=line_discount,
    )


def _taxes(node: Node, currency: str) -> int:
    return sum(tax.money("price", currency) for tax in node.nodes("tax_lines", limit=50))


def _shipping_cost(line: Node, currency: str, taxes_included: bool) -> int:
    key = "discounted_price" if line.raw("discounted_price") is not None else "price"
    cost = line.money(key, currency)
    return cost if taxes_included else cost + _taxes(line, currency)


def _sku(line: Node) -> str:
    sku = line.text("sku", 200)
    if len(sku) > 64:
        raise ConnectorRefused("a SKU of at most 64 characters is needed", line.at("sku"))
    if sku:
        return sku
    for key, prefix in (("variant_id", "variant"), ("product_id", "product")):
        value = positive_int(line.raw(key))
        if value is not None:
            return f"{prefix}-{value}"
    return f"line-{line.identifier('id')}"


def _later(line: Node) -> bool:
    """Pre-order and backorder apps mark a line in its `properties` (name/value pairs)."""
    for prop in line.nodes("properties", limit=100):
        name = prop.raw("name")
        if isinstance(name, str) and _LATER.search(name.lower()):
            return True
    return False


def _gateway(order: Node) -> str:
    names = order.raw("payment_gateway_names")
    if isinstance(names, list) and names and isinstance(names[0], str):
        return names[0][:100]
    return order.text("gateway", 100)


def _buyer(order: Node) -> BuyerDraft:
    customer = order.node("customer") or Node({}, "customer")
    shipping = order.node("shipping_address") or Node({}, "shipping_address")
    billing = order.node("billing_address") or Node({}, "billing_address")
    name = ""
    for place in (customer, shipping, billing):
        name = " ".join(p for p in (place.text("first_name", 64), place.text("last_name", 64)) if p)
        if name:
            break
    phone = (
        order.text("phone", 64)
        or shipping.text("phone", 64)
        or customer.text("phone", 64)
        or billing.text("phone", 64)
    )
    email = (
        order.text("email", 320) or order.text("contact_email", 320) or customer.text("email", 320)
    )
    return BuyerDraft(name=clean_text(name, 128), phone=phone or None, email=email or None)


_ADDRESS_PARTS = ("company", "address1", "address2", "city", "province", "zip", "country")


def _address(place: Node | None) -> str:
    if place is None:
        return ""
    parts = [place.text(part, 200) for part in _ADDRESS_PARTS]
    return clean_text(", ".join(part for part in parts if part), 1000)
