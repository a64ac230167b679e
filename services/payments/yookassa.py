"""YooKassa's API v3 as ShopBot needs it: payments, refunds, and the notifications it sends.

Why this module exists: orders get marked paid from YooKassa (SPEC H1), and money must never be
taken twice or believed on someone's word. It speaks YooKassa's language and knows no orders:
- money crosses as integer minor units plus a currency code; YooKassa wants a decimal string
  ("1234.50", as many places as the currency has) and answers in the same form, read strictly;
- every answer is checked against the documented shape before anyone reads it;
- a POST carries an Idempotence-Key, and what YooKassa calls an unknown outcome (HTTP 202
  "processing", HTTP 500, no answer at all) is repeated with the SAME key after the pause the
  answer names (`retry_after`, milliseconds), as YooKassa's documentation and its official SDKs
  do, so a retry never creates a second payment or refund;
- a notification is read only for what to fetch back: the truth comes from GET (DESIGN "The
  outside world"), never from the notification's own copy of the object.

Sources: yookassa.ru/developers/api (payment and refund objects), /using-api/basics
(Basic auth, idempotence), /using-api/response-handling (HTTP codes, the error object),
/using-api/webhooks (events and the addresses notifications come from).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.orders.money import exponent
from services.outside.http import HttpFailure, HttpReply, MalformedAnswer, Transport, json_body

DEFAULT_BASE_URL = "https://api.yookassa.ru/v3"
DEFAULT_PAUSE = 1.8  # seconds: the official SDKs' pause (1800 ms) when an answer names none
MAX_PAUSE = 60.0  # a broken or hostile retry_after cannot park a worker for hours
MAX_NOTIFICATION_BYTES = 64 * 1024
MAX_MESSAGE = 200  # characters of YooKassa's error description we pass on

# Documented limits of the payment request.
MAX_DESCRIPTION = 128
MAX_METADATA_KEYS = 16
MAX_METADATA_KEY = 32
MAX_METADATA_VALUE = 512
MAX_IDEMPOTENCE_KEY = 64

PAYMENT_STATUSES = frozenset({"pending", "waiting_for_capture", "succeeded", "canceled"})
REFUND_STATUSES = frozenset({"pending", "succeeded", "canceled"})

# Object ids are UUID-like ("2419a771-000f-5000-9000-1edaf29243f2"); anything outside this
# alphabet must not reach a URL path.
OBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
CURRENCY = re.compile(r"[A-Z]{3}")
# "1234.50": digits, a point, the currency's places; no sign, exponent, spaces or thousands.
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,4}))?")

Sleep = Callable[[float], Awaitable[None]]


class ErrorKind(StrEnum):
    UNAUTHORIZED = "unauthorized"  # 401/403: wrong shop id or key, or not allowed
    INVALID = "invalid"  # 400: YooKassa refused the request; `code`/`parameter` say why
    NOT_FOUND = "not_found"  # 404: no such object in this shop
    RATE_LIMITED = "rate_limited"  # 429: too many requests; try again after `retry_after`
    UNAVAILABLE = "unavailable"  # 5xx, still processing, or no answer: outcome unknown
    MALFORMED = "malformed"  # an answer not in the documented shape


class ProviderError(Exception):
    """YooKassa did not give a usable answer. Never carries the secret key."""

    def __init__(
        self,
        kind: ErrorKind | str,
        message: str,
        retry_after: float | None = None,
        *,
        code: str | None = None,
        parameter: str | None = None,
    ) -> None:
        self.kind = ErrorKind(kind)
        self.message = message
        self.retry_after = retry_after  # seconds
        self.code = code  # YooKassa's error code, e.g. "invalid_request"
        self.parameter = parameter  # the request parameter YooKassa blamed
        super().__init__(f"YooKassa {self.kind.value}: {message}")

    def __repr__(self) -> str:
        kind, message = self.kind.value, self.message
        return f"ProviderError({kind!r}, {message!r}, retry_after={self.retry_after})"


class NotificationInvalid(ValueError):
    """An incoming body that is not a YooKassa notification we act on (say which part)."""


@dataclass(frozen=True, repr=False)
class YooKassaCredentials:
    shop_id: str
    secret_key: str

    def __post_init__(self) -> None:
        # Basic auth cannot carry a colon in the user name; say so without echoing the key.
        if not self.shop_id or ":" in self.shop_id or not self.shop_id.isprintable():
            raise ValueError("a YooKassa shop id is a non-empty string without ':'")
        if not self.secret_key or not self.secret_key.isprintable():
            raise ValueError("a YooKassa secret key is a non-empty printable string")

    def authorization(self) -> str:
        token = base64.b64encode(f"{self.shop_id}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    def scrub(self, text: str) -> str:
        """`text` with the key (and the header that carries it) blotted out."""
        for secret in (self.secret_key, self.authorization().removeprefix("Basic ")):
            text = text.replace(secret, "…")
        return text

    def __repr__(self) -> str:
        return f"YooKassaCredentials(shop_id={self.shop_id!r}, secret_key='…')"


@dataclass(frozen=True)
class ProviderPayment:
    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    paid: bool
    amount_minor: int
    currency: str
    metadata: dict[str, str]
    confirmation_url: str | None  # where to send the buyer to pay (redirect confirmation)
    cancellation_reason: str | None  # e.g. "expired_on_confirmation", "insufficient_funds"
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ProviderRefund:
    id: str
    payment_id: str
    status: str  # pending | succeeded | canceled
    amount_minor: int
    currency: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Notification:
    """What a notification asks us to fetch back: never a fact by itself."""

    event: str  # payment.succeeded | payment.waiting_for_capture | payment.canceled | ...
    object_id: str
    object_status: str | None

    @property
    def object_kind(self) -> str:
        """ "payment" or "refund": which GET tells the truth."""
        return self.event.split(".", 1)[0]


# --- money in YooKassa's notation -------------------------------------------------------------


def format_amount(amount_minor: int, currency: str) -> str:
    """12345, "RUB" -> "123.45"; 1500, "JPY" -> "1500"; 1234, "KWD" -> "1.234"."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 0:
        raise ValueError(f"an amount is a non-negative integer of minor units: {amount_minor!r}")
    places = exponent(_currency(currency))
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"


def parse_amount(value: Any, currency: str) -> int:
    """YooKassa's "123.45" in `currency` -> 12345; anything else is a MalformedAnswer."""
    if not isinstance(value, str) or not CURRENCY.fullmatch(currency):
        raise MalformedAnswer(f"not an amount: {value!r} {currency!r}"[:120])
    match = AMOUNT.fullmatch(value)
    places = exponent(currency)
    if match is None or len(match.group(2) or "") > places:
        raise MalformedAnswer(f"not an amount in {currency}: {value!r}"[:120])
    whole, fraction = match.group(1), (match.group(2) or "").ljust(places, "0")
    return int(whole) * 10**places + int(fraction or "0")


def _currency(currency: str) -> str:
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise ValueError(f"a currency is three capital letters (ISO 4217): {currency!r}")
    return currency


# --- the client -------------------------------------------------------------------------------


class YooKassaClient:
    """One shop's calls go with that shop's credentials; the client itself holds no secret."""

    def __init__(
        self,
        transport: Transport,
        base_url: str = DEFAULT_BASE_URL,
        *,
        sleep: Sleep = asyncio.sleep,
        attempts: int = 3,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts counts every try, the first included: at least 1")
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._attempts = attempts

    async def create_payment(
        self,
        credentials: YooKassaCredentials,
        *,
        amount_minor: int,
        currency: str,
        description: str,
        return_url: str,
        metadata: dict[str, str],
        idempotence_key: str,
        capture: bool = True,
        receipt: dict[str, Any] | None = None,
    ) -> ProviderPayment:
        """A payment the buyer confirms on YooKassa's page (`confirmation_url`)."""
        if amount_minor <= 0:
            raise ValueError("a payment is for a positive amount")
        if not 0 < len(description) <= MAX_DESCRIPTION:
            raise ValueError(f"a payment description has 1-{MAX_DESCRIPTION} characters")
        if not return_url.startswith(("https://", "http://")):
            raise ValueError("return_url is where the buyer comes back to: an http(s) URL")
        body: dict[str, Any] = {
            "amount": {"value": format_amount(amount_minor, currency), "currency": currency},
            "capture": bool(capture),
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description,
            "metadata": _checked_metadata(metadata),
        }
        if receipt is not None:
            body["receipt"] = receipt
        answer = await self._call(credentials, "POST", "/payments", body, idempotence_key)
        payment = self._read(credentials, _payment, answer)
        if (payment.amount_minor, payment.currency) != (amount_minor, currency):
            raise ProviderError(ErrorKind.MALFORMED, "the payment came back for another amount")
        return payment

    async def get_payment(
        self, credentials: YooKassaCredentials, payment_id: str
    ) -> ProviderPayment:
        answer = await self._call(credentials, "GET", f"/payments/{_object_id(payment_id)}")
        payment = self._read(credentials, _payment, answer)
        if payment.id != payment_id:
            raise ProviderError(ErrorKind.MALFORMED, "asked for one payment, got another")
        return payment

    async def create_refund(
        self,
        credentials: YooKassaCredentials,
        *,
        payment_id: str,
        amount_minor: int,
        currency: str,
        idempotence_key: str,
        description: str | None = None,
    ) -> ProviderRefund:
        if amount_minor <= 0:
            raise ValueError("a refund is for a positive amount")
        body: dict[str, Any] = {
            "payment_id": _object_id(payment_id),
            "amount": {"value": format_amount(amount_minor, currency), "currency": currency},
        }
        if description is not None:
            if not 0 < len(description) <= 250:
                raise ValueError("a refund description has 1-250 characters")
            body["description"] = description
        answer = await self._call(credentials, "POST", "/refunds", body, idempotence_key)
        refund = self._read(credentials, _refund, answer)
        if refund.payment_id != payment_id or (refund.amount_minor, refund.currency) != (
            amount_minor,
            currency,
        ):
            raise ProviderError(ErrorKind.MALFORMED, "the refund came back for something else")
        return refund

    async def get_refund(self, credentials: YooKassaCredentials, refund_id: str) -> ProviderRefund:
        answer = await self._call(credentials, "GET", f"/refunds/{_object_id(refund_id)}")
        refund = self._read(credentials, _refund, answer)
        if refund.id != refund_id:
            raise ProviderError(ErrorKind.MALFORMED, "asked for one refund, got another")
        return refund

    # --- one call, with YooKassa's retries ------------------------------------------------------
    async def _call(
        self,
        credentials: YooKassaCredentials,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotence_key: str | None = None,
    ) -> Any:
        headers = {"Authorization": credentials.authorization(), "Accept": "application/json"}
        payload: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["Idempotence-Key"] = _checked_key(idempotence_key)
            payload = json_body(body)
        url = self._base_url + path
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            try:
                reply = await self._transport.request(method, url, headers=headers, body=payload)
            except HttpFailure as failure:
                # No answer: the request may or may not have been done. The same key makes
                # asking again safe (GETs are safe anyway).
                if failure.refused_address or last:
                    message = credentials.scrub(f"no answer from YooKassa: {failure.reason}")
                    raise ProviderError(ErrorKind.UNAVAILABLE, message) from failure
                await self._sleep(DEFAULT_PAUSE)
                continue
            if reply.status == 202 or reply.status >= 500:
                # 202: accepted, not done yet; 500: result unknown. Both: ask again with the
                # same data and key after the pause the answer names.
                pause = _pause(reply)
                if last:
                    what = "still processing" if reply.status == 202 else f"HTTP {reply.status}"
                    raise ProviderError(
                        ErrorKind.UNAVAILABLE,
                        f"{what} after {self._attempts} attempts",
                        retry_after=pause,
                    )
                await self._sleep(pause)
                continue
            return _answer(reply, credentials)
        raise AssertionError("unreachable: the last attempt returns or raises")

    @staticmethod
    def _read(credentials: YooKassaCredentials, parse: Callable[[Any], Any], answer: Any) -> Any:
        try:
            return parse(answer)
        except MalformedAnswer as error:
            raise ProviderError(ErrorKind.MALFORMED, credentials.scrub(str(error))) from None


def _answer(reply: HttpReply, credentials: YooKassaCredentials) -> Any:
    """The body of a 200, or the ProviderError its status and error object describe."""
    if reply.status == 200:
        try:
            return reply.json()
        except MalformedAnswer as error:
            raise ProviderError(ErrorKind.MALFORMED, credentials.scrub(str(error))) from None
    error = _error_object(reply)
    description = credentials.scrub(_text(error.get("description")) or f"HTTP {reply.status}")
    code, parameter = _text(error.get("code")), _text(error.get("parameter"))
    if reply.status == 400:
        where = f" ({parameter})" if parameter else ""
        message = f"{code or 'invalid_request'}{where}: {description}"
        raise ProviderError(ErrorKind.INVALID, message, code=code, parameter=parameter)
    if reply.status in (401, 403):
        raise ProviderError(ErrorKind.UNAUTHORIZED, description, code=code)
    if reply.status == 404:
        raise ProviderError(ErrorKind.NOT_FOUND, description, code=code)
    if reply.status == 429:
        # Not retried here: the caller's queue decides when; Retry-After if YooKassa sent one.
        raise ProviderError(ErrorKind.RATE_LIMITED, description, reply.retry_after(), code=code)
    raise ProviderError(ErrorKind.MALFORMED, f"unexpected HTTP {reply.status}")


def _error_object(reply: HttpReply) -> dict[str, Any]:
    """YooKassa's {"type": "error", "id", "code", "description", "parameter"}, or {}."""
    try:
        data = reply.json()
    except MalformedAnswer:
        return {}
    return data if isinstance(data, dict) else {}


def _pause(reply: HttpReply) -> float:
    """Seconds to wait before asking again: `retry_after` (ms) from the body, or the default."""
    try:
        data = reply.json()
    except MalformedAnswer:
        return DEFAULT_PAUSE
    value = data.get("retry_after") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return DEFAULT_PAUSE
    return min(max(value / 1000, 0.0), MAX_PAUSE)


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return "".join(ch if ch.isprintable() else " " for ch in value[:MAX_MESSAGE])


def _checked_key(key: str | None) -> str:
    if not key or len(key) > MAX_IDEMPOTENCE_KEY or not key.isascii() or not key.isprintable():
        raise ValueError(f"an Idempotence-Key has 1-{MAX_IDEMPOTENCE_KEY} printable ASCII chars")
    return key


def _checked_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(f"YooKassa keeps at most {MAX_METADATA_KEYS} metadata keys")
    for key, value in metadata.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_METADATA_KEY:
            raise ValueError(f"metadata keys have 1-{MAX_METADATA_KEY} characters: {key!r}")
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise ValueError(f"metadata values are strings up to {MAX_METADATA_VALUE} characters")
    return dict(metadata)


def _object_id(value: str) -> str:
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise ValueError(f"not a YooKassa object id: {value!r}"[:100])
    return value


# --- reading objects --------------------------------------------------------------------------


def _payment(data: Any) -> ProviderPayment:
    payment = _dict(data, "payment")
    status = _choice(payment, "status", PAYMENT_STATUSES)
    paid = payment.get("paid")
    if not isinstance(paid, bool):
        raise MalformedAnswer("payment.paid is not a boolean")
    # `paid` and `status` must tell the same story before anyone marks an order paid.
    if (status in ("succeeded", "waiting_for_capture")) != paid and status != "canceled":
        raise MalformedAnswer(f"a {status} payment with paid={paid}")
    amount_minor, currency = _amount(payment.get("amount"), "payment.amount")
    return ProviderPayment(
        id=_id(payment.get("id"), "payment.id"),
        status=status,
        paid=paid,
        amount_minor=amount_minor,
        currency=currency,
        metadata=_metadata(payment.get("metadata")),
        confirmation_url=_confirmation_url(payment.get("confirmation")),
        cancellation_reason=_cancellation_reason(payment.get("cancellation_details")),
        raw=payment,
    )


def _refund(data: Any) -> ProviderRefund:
    refund = _dict(data, "refund")
    amount_minor, currency = _amount(refund.get("amount"), "refund.amount")
    return ProviderRefund(
        id=_id(refund.get("id"), "refund.id"),
        payment_id=_id(refund.get("payment_id"), "refund.payment_id"),
        status=_choice(refund, "status", REFUND_STATUSES),
        amount_minor=amount_minor,
        currency=currency,
        raw=refund,
    )


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedAnswer(f"{what} is not a JSON object")
    return value


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise MalformedAnswer(f"{what} is not an id: {value!r}"[:120])
    return value


def _choice(data: dict[str, Any], name: str, allowed: frozenset[str]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise MalformedAnswer(f"unknown {name}: {value!r}"[:120])
    return value


def _amount(value: Any, what: str) -> tuple[int, str]:
    amount = _dict(value, what)
    currency = amount.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency):
        raise MalformedAnswer(f"{what}.currency is not a currency code")
    return parse_amount(amount.get("value"), currency), currency


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    metadata = _dict(value, "payment.metadata")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise MalformedAnswer("payment.metadata holds something other than strings")
    return dict(metadata)


def _confirmation_url(value: Any) -> str | None:
    if value is None:
        return None
    confirmation = _dict(value, "payment.confirmation")
    url = confirmation.get("confirmation_url")
    if confirmation.get("type") != "redirect" or url is None:
        return None
    # The buyer is sent there: only a proper https address will do.
    if not isinstance(url, str) or not url.startswith("https://") or not url.isprintable():
        raise MalformedAnswer("payment.confirmation.confirmation_url is not an https URL")
    return url


def _cancellation_reason(value: Any) -> str | None:
    if value is None:
        return None
    reason = _dict(value, "payment.cancellation_details").get("reason")
    if not isinstance(reason, str):
        raise MalformedAnswer("payment.cancellation_details.reason is not a string")
    return reason[:MAX_MESSAGE]


# --- notifications ----------------------------------------------------------------------------

# Event -> the status its object must be in (the event is named <object>.<status>).
NOTIFICATION_EVENTS = {
    "payment.succeeded": "succeeded",
    "payment.waiting_for_capture": "waiting_for_capture",
    "payment.canceled": "canceled",
    "refund.succeeded": "succeeded",
}

# The addresses YooKassa documents it sends HTTP notifications from (/using-api/webhooks).
YOOKASSA_NOTIFICATION_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "185.71.76.0/27",
        "185.71.77.0/27",
        "77.75.153.0/25",
        "77.75.156.11/32",
        "77.75.156.35/32",
        "77.75.154.128/25",
        "2a02:5180::/32",
    )
)


def parse_notification(body: bytes) -> Notification:
    """What a YooKassa notification says happened, to be fetched back before it counts.

    {"type": "notification", "event": "payment.succeeded", "object": {"id": ..., ...}}
    """
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationInvalid(f"the body is over {MAX_NOTIFICATION_BYTES} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise NotificationInvalid("the body is not JSON") from error
    if not isinstance(data, dict):
        raise NotificationInvalid("the body is not a JSON object")
    if data.get("type") != "notification":
        raise NotificationInvalid('"type" is not "notification"')
    event = data.get("event")
    if not isinstance(event, str) or event not in NOTIFICATION_EVENTS:
        raise NotificationInvalid(f"an event we do not act on: {event!r}"[:100])
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise NotificationInvalid('"object" is not a JSON object')
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not OBJECT_ID.fullmatch(object_id):
        raise NotificationInvalid('"object.id" is not a YooKassa id')
    status = obj.get("status")
    if status is not None and status != NOTIFICATION_EVENTS[event]:
        raise NotificationInvalid(f'"object.status" does not match the event {event}')
    return Notification(event=event, object_id=object_id, object_status=status)


def is_yookassa_address(ip: str) -> bool:
    """Whether a notification came from an address YooKassa sends from (a hint, not trust)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except (ValueError, AttributeError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in YOOKASSA_NOTIFICATION_NETWORKS)
