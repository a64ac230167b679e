"""A YooKassa API v3 on 127.0.0.1 for tests, answering the way yookassa.ru/developers documents.

Written from the documentation, not from our client:
- Basic auth with the shop id and secret key; a wrong pair answers 401 `invalid_credentials`
  (/using-api/basics, /using-api/response-handling/http-codes);
- the payment and refund objects as in the API reference's examples ("id", "status", "paid",
  "amount": {"value": "2.00", "currency": "RUB"}, "confirmation": {"type": "redirect",
  "confirmation_url": "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId=..."},
  "created_at", "description", "metadata", "recipient", "refundable", "test");
- errors as the documented error object {"type": "error", "id", "code", "description",
  "parameter"} (/using-api/response-handling/response-format);
- idempotence (/using-api/basics): a POST needs an Idempotence-Key; the same key with the same
  data gets the first answer again, the same key with other data gets 400 `invalid_request`
  "Idempotence key duplicated" on the parameter "Idempotence-Key";
- HTTP 202 {"type": "processing", "retry_after": <ms>} for a request accepted but not finished,
  the shape YooKassa's official SDKs read (ResponseProcessingException), and HTTP 500 for an
  unknown outcome. Both are answered AFTER the request was carried out, which is what makes them
  dangerous: only a retry with the same key is safe.

A test can make the next calls fail (`fail_next`), play the buyer (`succeed`, `cancel`), build
the notification YooKassa would send (`notification`), and read every request (`requests`).
Amounts are validated with the rule YooKassa documents for `amount.value` (a point and as many
places as the currency has); the fake knows a few currencies beyond YooKassa's own list so that
currencies with 0 and 3 places can be tried.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web

JsonDict = dict[str, Any]

PLACES = {"RUB": 2, "USD": 2, "EUR": 2, "BYN": 2, "KZT": 2, "JPY": 0, "KWD": 3}
PROCESSING_PAUSE_MS = 1800
FAULTS = (
    "processing",
    "server_error",
    "rate_limited",
    "unauthorized",
    "forbidden",
    "bad_request",
    "garbage",
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def idempotence_key(self) -> str | None:
        return self.headers.get("idempotence-key")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class _Fault:
    kind: str
    retry_after_ms: int | None
    body: Any


@dataclass
class _Remembered:
    request: tuple[str, str, Any]  # method, path, parsed body
    status: int
    answer: JsonDict


@dataclass
class FakeYooKassa:
    shops: dict[str, str] = field(default_factory=lambda: {"506751": "test_secret"})
    refund_status: str = "succeeded"  # what new refunds come back as
    payments: dict[str, JsonDict] = field(default_factory=dict)
    refunds: dict[str, JsonDict] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    _owners: dict[str, str] = field(default_factory=dict)
    _remembered: dict[tuple[str, str], _Remembered] = field(default_factory=dict)
    _faults: list[_Fault] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _url: str | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/v3/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v3"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The base URL, like https://api.yookassa.ru/v3."""
        assert self._url is not None, "start the fake first"
        return self._url

    # --- what a test does -----------------------------------------------------------------------
    def fail_next(
        self, kind: str, count: int = 1, *, retry_after_ms: int | None = None, body: Any = None
    ) -> None:
        """The next `count` calls answer with this fault instead of (or after) doing the work.

        processing: 202 after doing it; server_error: 500 after doing it; rate_limited: 429;
        unauthorized: 401; forbidden: 403; bad_request: 400; garbage: 200 with a body that is
        not JSON. `body` replaces the documented body (a dict goes as JSON, bytes as they are).
        """
        assert kind in FAULTS, f"unknown fault {kind}: one of {FAULTS}"
        self._faults.extend(_Fault(kind, retry_after_ms, body) for _ in range(count))

    def succeed(self, payment_id: str) -> JsonDict:
        """The buyer pays: succeeded, or waiting_for_capture for a two-stage payment."""
        payment = self.payments[payment_id]
        payment["paid"] = True
        if payment.get("_capture", True):
            payment["status"] = "succeeded"
            payment["captured_at"] = _now()
            payment["refundable"] = True
        else:
            payment["status"] = "waiting_for_capture"
        payment["payment_method"] = {"type": "bank_card", "id": payment_id, "saved": False}
        return self._view(payment)

    def cancel(
        self, payment_id: str, reason: str = "expired_on_confirmation", party: str = "yoo_money"
    ) -> JsonDict:
        """The payment fails or expires, with the documented cancellation_details."""
        payment = self.payments[payment_id]
        payment.update(status="canceled", paid=False, refundable=False)
        payment["cancellation_details"] = {"party": party, "reason": reason}
        return self._view(payment)

    def notification(self, event: str, object_id: str) -> bytes:
        """The body YooKassa POSTs: {"type": "notification", "event", "object"}."""
        source = self.refunds if event.startswith("refund.") else self.payments
        body = {"type": "notification", "event": event, "object": self._view(source[object_id])}
        return json.dumps(body).encode()

    def posts(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == f"/v3{path}"]

    # --- the API --------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, request.path, headers, body))
        fault = self._faults.pop(0) if self._faults else None
        if fault is not None and fault.kind not in ("processing", "server_error"):
            return _fault_answer(fault)
        shop = self._shop(headers.get("authorization", ""))
        if shop is None:
            return _error(401, "invalid_credentials", "Authentication failed", "Authorization")
        status, answer = self._route(shop, request.method, request.path, body, headers)
        if fault is not None:
            return _fault_answer(fault)  # the work is done; only the answer is lost
        return web.json_response(answer, status=status)

    def _route(
        self, shop: str, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, JsonDict]:
        match = re.fullmatch(r"/v3/(payments|refunds)(?:/([^/]+))?", path)
        if match is None:
            return _error_body(404, "not_found", "Unknown API method")
        kind, object_id = match.groups()
        if method == "GET" and object_id is not None:
            store = self.payments if kind == "payments" else self.refunds
            found = store.get(object_id)
            if found is None or self._owners.get(object_id) != shop:
                return _error_body(404, "not_found", f"Incorrect {kind[:-1]} id or no access")
            return 200, self._view(found)
        if method != "POST" or object_id is not None:
            return _error_body(405, "invalid_request", "Method not allowed")
        try:
            data = json.loads(raw)
        except ValueError:
            return _error_body(400, "invalid_request", "Request body is not valid JSON")
        key = headers.get("idempotence-key")
        if not key:
            return _error_body(400, "invalid_request", "Idempotence key missing", "Idempotence-Key")
        remembered = self._remembered.get((shop, key))
        if remembered is not None:
            if remembered.request != (method, path, data):
                return _error_body(
                    400, "invalid_request", "Idempotence key duplicated", "Idempotence-Key"
                )
            return remembered.status, copy.deepcopy(remembered.answer)
        create = self._create_payment if kind == "payments" else self._create_refund
        status, answer = create(shop, data)
        self._remembered[(shop, key)] = _Remembered((method, path, data), status, answer)
        return status, copy.deepcopy(answer)

    def _create_payment(self, shop: str, data: Any) -> tuple[int, JsonDict]:
        if not isinstance(data, dict):
            return _error_body(400, "invalid_request", "Body must be an object")
        problem = _amount_problem(data.get("amount"))
        if problem:
            return _error_body(400, "invalid_request", problem, "amount")
        confirmation = data.get("confirmation")
        if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
            return _error_body(400, "invalid_request", "Unsupported confirmation", "confirmation")
        if not isinstance(confirmation.get("return_url"), str):
            return _error_body(400, "invalid_request", "Return URL missing", "return_url")
        description = data.get("description", "")
        if not isinstance(description, str) or len(description) > 128:
            return _error_body(400, "invalid_request", "Description too long", "description")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict) or len(metadata) > 16:
            return _error_body(400, "invalid_request", "Invalid metadata", "metadata")
        payment_id = _object_id()
        payment: JsonDict = {
            "id": payment_id,
            "status": "pending",
            "paid": False,
            "amount": dict(data["amount"]),
            "confirmation": {
                "type": "redirect",
                "confirmation_url": (
                    "https://yoomoney.ru/api-pages/v2/payment-confirm/epl?orderId=" + payment_id
                ),
            },
            "created_at": _now(),
            "description": description,
            "metadata": dict(metadata),
            "recipient": {"account_id": shop, "gateway_id": "100700"},
            "refundable": False,
            "test": True,
            "_capture": data.get("capture") is True,  # kept out of answers
        }
        self.payments[payment_id] = payment
        self._owners[payment_id] = shop
        return 200, self._view(payment)

    def _create_refund(self, shop: str, data: Any) -> tuple[int, JsonDict]:
        if not isinstance(data, dict):
            return _error_body(400, "invalid_request", "Body must be an object")
        payment = self.payments.get(str(data.get("payment_id")))
        if payment is None or self._owners.get(payment["id"]) != shop:
            return _error_body(400, "invalid_request", "Payment not found", "payment_id")
        problem = _amount_problem(data.get("amount"))
        if problem:
            return _error_body(400, "invalid_request", problem, "amount")
        if payment["status"] != "succeeded":
            return _error_body(400, "invalid_request", "Payment is not succeeded", "payment_id")
        currency = data["amount"]["currency"]
        refunded = _minor(payment.get("refunded_amount", {"value": "0", "currency": currency}))
        wanted = _minor(data["amount"])
        if currency != payment["amount"]["currency"] or refunded + wanted > _minor(
            payment["amount"]
        ):
            return _error_body(
                400, "invalid_request", "Refund amount exceeds the payment", "amount"
            )
        payment["refunded_amount"] = {
            "value": _value(refunded + wanted, currency),
            "currency": currency,
        }
        refund = {
            "id": _object_id(),
            "payment_id": payment["id"],
            "status": self.refund_status,
            "created_at": _now(),
            "amount": dict(data["amount"]),
        }
        if isinstance(data.get("description"), str):
            refund["description"] = data["description"]
        self.refunds[refund["id"]] = refund
        self._owners[refund["id"]] = shop
        return 200, self._view(refund)

    def _shop(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Basic":
            return None
        try:
            shop, _, secret = base64.b64decode(token, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return shop if self.shops.get(shop) == secret else None

    @staticmethod
    def _view(stored: JsonDict) -> JsonDict:
        return {k: copy.deepcopy(v) for k, v in stored.items() if not k.startswith("_")}


def _fault_answer(fault: _Fault) -> web.Response:
    if fault.body is not None:
        status = {"processing": 202, "server_error": 500, "rate_limited": 429}.get(fault.kind)
        others = {"unauthorized": 401, "forbidden": 403, "bad_request": 400, "garbage": 200}
        status = status or others[fault.kind]
        if isinstance(fault.body, bytes):
            return web.Response(body=fault.body, status=status)
        return web.json_response(fault.body, status=status)
    if fault.kind == "processing":
        pause = PROCESSING_PAUSE_MS if fault.retry_after_ms is None else fault.retry_after_ms
        body = {
            "type": "processing",
            "description": "Request accepted, but not processed yet. Try again later",
            "retry_after": pause,
        }
        return web.json_response(body, status=202)
    if fault.kind == "server_error":
        return _error(500, "internal_server_error", "Internal server error")
    if fault.kind == "rate_limited":
        return _error(429, "too_many_requests", "Too many requests")
    if fault.kind == "unauthorized":
        return _error(401, "invalid_credentials", "Authentication failed", "Authorization")
    if fault.kind == "forbidden":
        return _error(403, "forbidden", "Not enough rights for this operation")
    if fault.kind == "bad_request":
        return _error(400, "invalid_request", "Invalid request")
    return web.Response(body=b"<html><body>502 Bad Gateway</body></html>", status=200)


def _error(status: int, code: str, description: str, parameter: str | None = None) -> web.Response:
    return web.json_response(_error_body(status, code, description, parameter)[1], status=status)


def _error_body(
    status: int, code: str, description: str, parameter: str | None = None
) -> tuple[int, JsonDict]:
    body: JsonDict = {"type": "error", "id": str(uuid.uuid4()), "code": code}
    body["description"] = description
    if parameter is not None:
        body["parameter"] = parameter
    return status, body


def _amount_problem(amount: Any) -> str | None:
    if not isinstance(amount, dict):
        return "Amount missing"
    currency, value = amount.get("currency"), amount.get("value")
    if currency not in PLACES:
        return f"Unsupported currency {currency!r}"
    places = PLACES[currency]
    pattern = r"[0-9]+" if places == 0 else rf"[0-9]+\.[0-9]{{{places}}}"
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        return f"Invalid amount value {value!r} for {currency}"
    if _minor(amount) <= 0:
        return "Amount must be positive"
    return None


def _minor(amount: JsonDict) -> int:
    places = PLACES[amount["currency"]]
    whole, _, fraction = amount["value"].partition(".")
    return int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")


def _value(minor: int, currency: str) -> str:
    places = PLACES[currency]
    if places == 0:
        return str(minor)
    return f"{minor // 10**places}.{minor % 10**places:0{places}d}"


def _object_id() -> str:
    # Shaped like the documentation's ids: "23d93cac-000f-5000-8000-126628f15141".
    hex_ = uuid.uuid4().hex
    return f"{hex_[:8]}-000f-5000-8000-{hex_[8:20]}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"
