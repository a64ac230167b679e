"""CDEK: API v2, OAuth client credentials, an order's statuses by its CDEK number.

Written from CDEK's public API v2 documentation (api-docs.cdek.ru): "Авторизация клиентов"
(`POST /v2/oauth/token`, grant_type=client_credentials, client_id, client_secret; answer
access_token, token_type "bearer", expires_in in seconds), "Информация о заказе"
(`GET /v2/orders?cdek_number=`: entity.statuses[] of {code, name, date_time, city}, times as
ISO 8601 with offset, e.g. 2020-08-10T20:40:57+0700; an unknown order answers 400 with
requests[].state INVALID and errors[].code v2_entity_not_found), "Приложение: статусы заказа"
(the status codes below), and "Вебхуки" (`POST /v2/webhooks` {url, type}; the ORDER_STATUS
event {type, date_time, uuid, attributes{is_return, cdek_number, number, code,
status_code, status_date_time, city_name, city_code}}). CDEK does not sign its webhooks, so a
webhook only says which CDEK numbers to fetch back (`parse_webhook`); it is never believed.

Token: cached per account until a minute (or a tenth of its life) before `expires_in`, and
fetched again once when CDEK answers 401 to a cached one.

Rate: CDEK publishes no per-client request rate; one request a second per account is this
adapter's own restraint, and a 429 with Retry-After is honoured as any carrier's.

Mapping decisions: ACCEPTED/CREATED/INVALID describe the order's registration, not the parcel,
and make no checkpoint; an order whose latest status is REMOVED was withdrawn by the shop and
is reported not found. RETURNED_TO_*_WAREHOUSE are documented as "не означает возврат груза
отправителю" and are in_transit. NOT_DELIVERED is documented as the buyer refusing, a final
status: refused. A status code missing from the table is kept as in_transit: every other
documented code is a step between warehouses, cities or couriers, and an unknown one is never
taken for an end.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from services.carriers.base import (
    CarrierCredentials,
    CarrierError,
    Checkpoint,
    EventKind,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
    TrackResult,
)
from services.carriers.calls import (
    MAX_CHECKPOINTS,
    TIME_LIMIT,
    Malformed,
    Pacers,
    Sleep,
    account_key,
    check_size,
    clean,
    common_failure,
    failed,
    iso_time,
    json_of,
    send,
    split_valid,
    tracked,
)
from services.outside.http import HttpReply, Transport, json_body
from services.time.clock import Clock, SystemClock

DEFAULT_URL = "https://api.cdek.ru"
MAX_WEBHOOK_BYTES = 64 * 1024

K = EventKind

STATUS_KINDS: dict[str, EventKind] = {
    "RECEIVED_AT_SHIPMENT_WAREHOUSE": K.ACCEPTED,  # Принят на склад отправителя
    "READY_TO_SHIP_AT_SENDING_OFFICE": K.IN_TRANSIT,  # Выдан на отправку в г. отправителе
    "READY_FOR_SHIPMENT_IN_TRANSIT_CITY": K.IN_TRANSIT,  # Выдан на отправку в г. транзите
    "READY_FOR_SHIPMENT_IN_SENDER_CITY": K.IN_TRANSIT,  # Готов к отправке в г. отправителе
    "RETURNED_TO_SENDER_CITY_WAREHOUSE": K.IN_TRANSIT,  # Возвращен на склад отправителя
    "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY": K.IN_TRANSIT,  # Сдан перевозчику в г. отправителе
    "SENT_TO_TRANSIT_CITY": K.IN_TRANSIT,  # Отправлен в г. транзит
    "ACCEPTED_IN_TRANSIT_CITY": K.IN_TRANSIT,  # Встречен в г. транзите
    "ACCEPTED_AT_TRANSIT_WAREHOUSE": K.IN_TRANSIT,  # Принят на склад транзита
    "RETURNED_TO_TRANSIT_WAREHOUSE": K.IN_TRANSIT,  # Возвращен на склад транзита
    "READY_TO_SHIP_IN_TRANSIT_OFFICE": K.IN_TRANSIT,  # Выдан на отправку в г. транзите
    "TAKEN_BY_TRANSPORTER_FROM_TRANSIT_CITY": K.IN_TRANSIT,  # Сдан перевозчику в г. транзите
    "SENT_TO_SENDER_CITY": K.IN_TRANSIT,  # Отправлен в г. отправитель
    "SENT_TO_RECIPIENT_CITY": K.IN_TRANSIT,  # Отправлен в г. получатель
    "ACCEPTED_IN_SENDER_CITY": K.IN_TRANSIT,  # Встречен в г. отправителе
    "ACCEPTED_IN_RECIPIENT_CITY": K.IN_TRANSIT,  # Встречен в г. получателе
    "ACCEPTED_AT_RECIPIENT_CITY_WAREHOUSE": K.IN_TRANSIT,  # Принят на склад доставки (до двери)
    "ACCEPTED_AT_PICK_UP_POINT": K.ARRIVED_AT_PICKUP_POINT,  # Принят на склад до востребования
    "TAKEN_BY_COURIER": K.IN_TRANSIT,  # Выдан на доставку
    "RETURNED_TO_RECIPIENT_CITY_WAREHOUSE": K.IN_TRANSIT,  # Возвращен на склад доставки
    "DELIVERED": K.DELIVERED,  # Вручен
    "NOT_DELIVERED": K.REFUSED,  # Не вручен: покупатель отказался от покупки, возврат в ИМ
    "IN_CUSTOMS_INTERNATIONAL": K.IN_TRANSIT,  # Таможенное оформление в стране отправления
    "SHIPPED_TO_DESTINATION": K.IN_TRANSIT,  # Отправлено в страну назначения
    "PASSED_TO_TRANSIT_CARRIER": K.IN_TRANSIT,  # Передано транзитному перевозчику
    "IN_CUSTOMS_LOCAL": K.IN_TRANSIT,  # Таможенное оформление в стране назначения
    "CUSTOMS_COMPLETE": K.IN_TRANSIT,  # Таможенное оформление завершено
    "POSTOMAT_POSTED": K.ARRIVED_AT_PICKUP_POINT,  # Заложен в постамат
    "POSTOMAT_SEIZED": K.RETURNED_TO_SENDER,  # Изъят из постамата курьером: срок истек, возврат
    "POSTOMAT_RECEIVED": K.DELIVERED,  # Изъят из постамата клиентом
}
REGISTRATION = frozenset({"ACCEPTED", "CREATED", "INVALID"})  # the order's paperwork
REMOVED = "REMOVED"  # Удален: withdrawn by the shop before CDEK received the parcel

NOT_FOUND_ERRORS = frozenset({"v2_entity_not_found", "v2_entity_not_found_im_number"})
BAD_CODE_ERRORS = frozenset({"v2_invalid_format", "v2_invalid_value_type"})

# CDEK numbers are digits (ten in today's numbering); the documentation fixes no length.
CDEK_NUMBER = re.compile(r"[0-9]{6,20}")


class WebhookRejected(ValueError):
    """A body that is not a CDEK webhook: keep it for the shop to see, change nothing."""


@dataclass
class _Token:
    value: str
    good_until: datetime


class CdekAdapter:
    name = "cdek"
    max_batch = 1  # GET /v2/orders takes one cdek_number
    min_interval = 1.0
    credential_fields = ("client_id", "client_secret")

    def __init__(
        self,
        transport: Transport,
        base_url: str = DEFAULT_URL,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock | None = None,
        time_limit: float = TIME_LIMIT,
    ):
        self._transport = transport
        self._base = base_url.rstrip("/")
        self._time_limit = time_limit
        self._clock = clock or SystemClock()
        self._pacers = Pacers(self.min_interval, sleep, self._clock)
        self._tokens: dict[str, _Token] = {}

    def valid_code(self, code: str) -> bool:
        return isinstance(code, str) and bool(CDEK_NUMBER.fullmatch(code))

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]) -> TrackResult:
        given = CarrierCredentials.require(credentials, self.credential_fields)
        to_send, answers = split_valid(codes, self.valid_code, "CDEK")
        done: TrackResult = {}
        for code in to_send:
            try:
                reply = await self._authorized(
                    given, "GET", f"/v2/orders?{urlencode({'cdek_number': code})}"
                )
                done[code] = order_answer(reply, code)
            except Malformed as error:
                raise failed(
                    CarrierError(FailureKind.MALFORMED, f"CDEK: {error}"), {**answers, **done}
                ) from None
            except CarrierError as error:
                raise failed(error, {**answers, **done}) from None
        return {**answers, **done}

    async def subscribe(self, credentials: Mapping[str, str], url: str) -> str:
        """Asks CDEK to send ORDER_STATUS webhooks to `url`; returns the subscription's uuid."""
        given = CarrierCredentials.require(credentials, self.credential_fields)
        reply = await self._authorized(
            given, "POST", "/v2/webhooks", body=json_body(subscription_request(url))
        )
        try:
            answer = json_of(reply)
            uuid = answer.get("entity", {}).get("uuid") if isinstance(answer, dict) else None
        except (Malformed, AttributeError):
            uuid = None
        if not reply.ok:
            raise CarrierError(
                FailureKind.INVALID, f"CDEK refused the webhook: {request_errors(reply)}"
            )
        if not isinstance(uuid, str) or not uuid or len(uuid) > 64:
            raise CarrierError(FailureKind.MALFORMED, "CDEK: a webhook answer without its uuid")
        return uuid

    async def _authorized(
        self, given: CarrierCredentials, method: str, path: str, *, body: bytes | None = None
    ) -> HttpReply:
        account = account_key(given["client_id"], given["client_secret"])
        for attempt in range(2):
            token = await self._token(given, account)
            await self._pacers.wait(account)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            reply = await send(
                self._transport,
                method,
                self._base + path,
                headers=headers,
                body=body,
                time_limit=self._time_limit,
            )
            check_size(reply, "CDEK")
            if reply.status == 401 and attempt == 0:
                self._tokens.pop(account, None)  # expired or revoked early: one fresh try
                continue
            failure = common_failure(reply, "CDEK")
            if failure is not None:
                raise failure
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    async def _token(self, given: CarrierCredentials, account: str) -> str:
        cached = self._tokens.get(account)
        if cached is not None and self._clock.now() < cached.good_until:
            return cached.value
        await self._pacers.wait(account)
        reply = await send(
            self._transport,
            "POST",
            f"{self._base}/v2/oauth/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": given["client_id"],
                    "client_secret": given["client_secret"],
                }
            ).encode(),
            time_limit=self._time_limit,
        )
        check_size(reply, "CDEK")
        if reply.status in (400, 401, 403):
            raise CarrierError(FailureKind.UNAUTHORIZED, "CDEK refused the client credentials")
        failure = common_failure(reply, "CDEK")
        if failure is not None:
            raise failure
        if not reply.ok:
            raise CarrierError(FailureKind.MALFORMED, f"CDEK token answer {reply.status}")
        try:
            answer = json_of(reply)
        except Malformed:
            raise CarrierError(
                FailureKind.MALFORMED, "CDEK: the token answer is not JSON"
            ) from None
        value = answer.get("access_token") if isinstance(answer, dict) else None
        lifetime = answer.get("expires_in") if isinstance(answer, dict) else None
        if (
            not isinstance(value, str)
            or not 0 < len(value) <= 8192
            or not value.isascii()
            or not value.isprintable()
            or isinstance(lifetime, bool)
            or not isinstance(lifetime, int)
            or not 0 < lifetime <= 366 * 86400
        ):
            raise CarrierError(FailureKind.MALFORMED, "CDEK: a token answer without a usable token")
        margin = min(60, lifetime / 10)
        self._tokens[account] = _Token(
            value, self._clock.now() + timedelta(seconds=lifetime - margin)
        )
        return value


def order_answer(reply: HttpReply, code: str) -> Tracking | TrackingProblem:
    answer = json_of(reply)
    if not isinstance(answer, dict):
        raise Malformed("an order answer that is not an object")
    if reply.status == 400 or not reply.ok:
        errors = error_codes(answer)
        if errors & NOT_FOUND_ERRORS:
            return TrackingProblem(code, ProblemKind.NOT_FOUND, "CDEK knows no such order")
        if errors & BAD_CODE_ERRORS:
            return TrackingProblem(code, ProblemKind.INVALID_CODE, "CDEK refused the number")
        if reply.status == 400 and errors:
            return TrackingProblem(code, ProblemKind.REJECTED, request_errors(reply))
        raise CarrierError(FailureKind.INVALID, f"CDEK answered {reply.status}")
    entity = answer.get("entity")
    if not isinstance(entity, dict):
        raise Malformed("an order answer without its entity")
    number = entity.get("cdek_number")
    if number is not None and str(number) != code:
        raise Malformed("an answer about another order")
    statuses = entity.get("statuses", [])
    if not isinstance(statuses, list):
        raise Malformed("statuses is not a list")
    if len(statuses) > MAX_CHECKPOINTS:
        raise Malformed(f"{len(statuses)} statuses for one order")
    read = [read_status(status) for status in statuses]
    if read and max(read, key=lambda pair: pair[0])[1] == REMOVED:
        return TrackingProblem(code, ProblemKind.NOT_FOUND, "the shop removed the order at CDEK")
    return tracked(code, [checkpoint for _, _, checkpoint in read if checkpoint is not None])


def read_status(status: Any) -> tuple[datetime, str, Checkpoint | None]:
    if not isinstance(status, dict):
        raise Malformed("a status that is not an object")
    code = status.get("code")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z_]{1,64}", code):
        raise Malformed("a status without a code")
    at = iso_time(status.get("date_time"))
    if code in REGISTRATION or code == REMOVED:
        return at, code, None
    checkpoint = Checkpoint(
        kind=STATUS_KINDS.get(code, K.IN_TRANSIT),
        at=at,
        location=clean(status.get("city")),
        description=clean(status.get("name")) or code,
        carrier_code=code,
    )
    return at, code, checkpoint


def error_codes(answer: dict) -> set[str]:
    found: set[str] = set()
    requests = answer.get("requests")
    if isinstance(requests, list):
        for request in requests[:20]:
            errors = request.get("errors") if isinstance(request, dict) else None
            if isinstance(errors, list):
                for error in errors[:20]:
                    if isinstance(error, dict) and isinstance(error.get("code"), str):
                        found.add(error["code"][:100])
    return found


def request_errors(reply: HttpReply) -> str:
    try:
        answer = json_of(reply)
    except Malformed:
        return f"HTTP {reply.status}"
    codes = sorted(error_codes(answer)) if isinstance(answer, dict) else []
    return clean(", ".join(codes)) or f"HTTP {reply.status}"


def subscription_request(url: str) -> dict[str, str]:
    """The body of `POST /v2/webhooks` for order statuses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 255:
        raise ValueError("a webhook address must be an http(s) URL of at most 255 characters")
    return {"url": url, "type": "ORDER_STATUS"}


def parse_webhook(body: bytes) -> list[str]:
    """The CDEK numbers an ORDER_STATUS webhook names, to fetch back through the API; [] for
    other webhook types. Nothing else in the body is trusted or returned."""
    if not isinstance(body, bytes | bytearray) or len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookRejected("not a webhook body of a sane size")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise WebhookRejected("not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookRejected("not a CDEK webhook")
    if event["type"] != "ORDER_STATUS":
        return []
    attributes = event.get("attributes")
    if not isinstance(attributes, dict):
        raise WebhookRejected("an ORDER_STATUS webhook without attributes")
    number = attributes.get("cdek_number")
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if not isinstance(number, str) or not CDEK_NUMBER.fullmatch(number):
        raise WebhookRejected("an ORDER_STATUS webhook without a CDEK number")
    return [number]
