"""What every storefront platform connector is: order in, status out (H4).

A shop on WooCommerce, Shopify or Tilda connects its store instead of programming against
ShopBot's storefront API. A connector is pure translation: it checks that a webhook really
came from the platform, turns the platform's order into an `OrderDraft` for the order
service, and reports our status changes back through the platform's own API. It stores
nothing and calls no service; the HTTP edge and the order service (wired elsewhere) decide
what happens with what it returns.

How the edge uses one, in this order:
1. `handshake(headers, body)`: a platform's set-up probe (WooCommerce's ping when a webhook
   is created, Tilda's `test=test`) is answered with the returned text and nothing else
   happens; it carries no signature and changes nothing.
2. `verify(headers, body, secret)`: anything else is trusted only when this says so
   (DESIGN: an inbound event is trusted only after verification).
3. `parse_order(headers, body)`: the order, or None for an event that carries no order to
   take. The edge takes each platform order once, keyed by `platform_order_id`: platforms
   redeliver, and WooCommerce and Shopify send the whole order again on every update.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.orders.drafts import OrderDraft
from services.outside.http import Transport

# A webhook body bigger than this is not read. An order of 200 lines from Shopify, with all
# the fields it sends per line, stays well under it.
MAX_BODY_BYTES = 2 * 1024 * 1024


class PlatformStatus(StrEnum):
    """Our small vocabulary of what a platform hears back; each connector maps it onto the
    platform's own statuses (or says that the platform has nothing for it)."""

    PROCESSING = "processing"  # the shop has accepted the order and is working on it
    SHIPPED = "shipped"  # handed to the carrier; may come with a carrier and a track code
    COMPLETED = "completed"  # the buyer has the goods
    CANCELLED = "cancelled"  # will not be fulfilled
    REFUNDED = "refunded"  # the money went back to the buyer


@dataclass(frozen=True)
class ConnectorOrder:
    """A platform's order as the order service takes it."""

    platform: str  # "woocommerce", "shopify", "tilda"
    platform_order_id: str  # the platform's own id: the key an order is taken once by
    platform_order_number: str  # what the shop and the buyer see ("1042", "#1001")
    draft: OrderDraft  # amounts in minor units of `currency`
    raw_status: str  # the platform's own status word as sent ("" when it sends none)
    # The currency the platform priced the order in. The caller compares it with the shop's:
    # a draft's amounts mean nothing in another currency.
    currency: str


class ConnectorRefused(Exception):
    """A payload that is not an order we can take: malformed, hostile, or an order whose
    numbers do not add up. `field` names the place in the platform's payload."""

    def __init__(self, reason: str, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class SignatureInvalid(Exception):
    """A webhook whose signature (or API key) does not prove it came from the platform."""


class PlatformError(Exception):
    """The platform did not take a status change. `retryable` says whether the same call may
    succeed later (rate limit, outage, timeout); `retry_after` is the platform's own wait in
    seconds when it gave one. The message is safe to show to the shop: no credentials."""

    def __init__(
        self,
        platform: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        self.platform = platform
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(f"{platform}: {message}")


@dataclass(frozen=True)
class CredentialField:
    """One thing the shop copies from its platform's admin into ShopBot's settings."""

    name: str  # the key in the credentials mapping
    title: str  # what the platform's admin calls it, for the settings screen
    secret: bool = True  # False: may be shown back to the shop (a store URL)


class Connector(Protocol):
    platform: str
    secret_fields: tuple[CredentialField, ...]
    # Which of `secret_fields` is the key `verify` takes.
    webhook_secret_field: str
    # The statuses `send_status` reports to the platform; the others are no-ops there.
    sends: frozenset[PlatformStatus]

    def check_credentials(self, credentials: Mapping[str, str]) -> dict[str, str]:
        """The credentials cleaned (URLs normalised), or `services.refusals.Refused`
        naming the field at fault. Called before they are sealed and before each use."""
        ...

    def handshake(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The answer to a platform's set-up probe, or None when this is not one."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> bool:
        """Whether the delivery proves it came from the platform (constant-time); never
        raises, whatever the headers and body."""
        ...

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The platform's id of this delivery, for dropping a redelivered webhook early."""
        ...

    def parse_order(self, headers: Mapping[str, str], body: bytes) -> ConnectorOrder | None:
        """The order in a verified delivery; None for an event without an order to take.
        Raises ConnectorRefused, and nothing else, for anything it cannot take."""
        ...

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
        """Report a status change; PlatformError when the platform did not take it."""
        ...


def verified(connector: Connector, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """`verify` for callers that prefer an exception."""
    if not connector.verify(headers, body, secret):
        raise SignatureInvalid(f"the {connector.platform} webhook's signature does not match")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name in any case (edges and test clients differ in how they keep them)."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def hmac_sha256_base64_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the base64 HMAC-SHA256 of the raw body under `secret`, the
    scheme WooCommerce and Shopify both use. Compared in constant time; an empty secret
    verifies nothing."""
    if not secret or not signature or not isinstance(body, bytes | bytearray):
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(_utf8(secret), bytes(body), hashlib.sha256).digest()
    return hmac.compare_digest(given, expected)


def same_secret(given: str | None, expected: str) -> bool:
    """Whether a key sent in clear (Tilda's API key) is the expected one. Both sides are
    hashed first, so the comparison takes the same time whatever their lengths."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(_sha256(given), _sha256(expected))


def _utf8(text: str) -> bytes:
    # "surrogatepass": a header decoded with odd bytes must not make a comparison raise.
    return text.encode("utf-8", "surrogatepass")


def _sha256(text: str) -> bytes:
    return hashlib.sha256(_utf8(text)).digest()
