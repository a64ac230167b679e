"""Nova Poshta: API 2.0, `TrackingDocument.getStatusDocuments`, up to 100 waybills a request.

Written from Nova Poshta's public API 2.0 documentation (developers.novaposhta.ua, model
TrackingDocument, method getStatusDocuments: POST {apiKey, modelName, calledMethod,
methodProperties: {Documents: [{DocumentNumber, Phone}]}}, at most 100 documents; the answer
{success, data[], errors[], warnings[], info[], errorCodes[], ...} with one data item per
document: Number, StatusCode, Status, CitySender, CityRecipient, WarehouseRecipient,
DateCreated "18-11-2021 11:52:42", RecipientDateTime "21.11.2021 13:53:47", ...), its table
"Актуальні статуси трекінгу" (the StatusCode values below) and its error dictionary
(20000200068 API auth fail, 20000200069 API key empty). Times are Kyiv wall-clock time.

getStatusDocuments tells a waybill's current status, not its history, so each answer is at
most one checkpoint, timed by the date the answer gives for that state (received: the
recipient's date; arrived: the actual delivery date to the branch; otherwise the last
tracking update, the scan date, or the waybill's creation date, the first one present).

The optional "phone" credential (the sender's phone) is sent with every document, as the
documentation allows, for the fuller answer it unlocks.

Mapping decisions: 1 (created by the sender, not handed over) is a tracking with no
checkpoint; 2 (deleted) and 3 (number not found) are not found. 106 is "received, and a
return-delivery waybill (the cash-on-delivery money or documents) created": delivered. 108
("Відмова одержувача") is gone from the current table but still answered for old waybills:
refused. A code not in the table is kept as in_transit, never an end.

Rate: Nova Poshta publishes no request rate; one request a second per key is this adapter's
own restraint.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

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
    KYIV,
    TIME_LIMIT,
    Malformed,
    Pacers,
    Sleep,
    account_key,
    batches,
    check_size,
    clean,
    common_failure,
    failed,
    json_of,
    local_time,
    send,
    split_valid,
    tracked,
)
from services.outside.http import HttpReply, Transport, json_body
from services.time.clock import Clock

DEFAULT_URL = "https://api.novaposhta.ua/v2.0/json/"
TIME_FORMATS = ("%d-%m-%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")
NO_DATE = "0001-01-01"  # Nova Poshta's way of saying "no date yet"

K = EventKind

STATUS_KINDS: dict[int, EventKind] = {
    4: K.ACCEPTED,  # Відправлення у місті ХХХХ (межобласні): у місті відправника
    41: K.ACCEPTED,  # Відправлення у місті ХХХХ (локал стандарт / локал експрес)
    12: K.ACCEPTED,  # Нова Пошта комплектує ваше відправлення
    5: K.IN_TRANSIT,  # Відправлення прямує до міста YYYY
    6: K.IN_TRANSIT,  # Відправлення у місті YYYY, орієнтовна доставка до відділення
    7: K.ARRIVED_AT_PICKUP_POINT,  # Прибув на відділення
    8: K.ARRIVED_AT_PICKUP_POINT,  # Прибув на відділення (завантажено в Поштомат)
    9: K.DELIVERED,  # Відправлення отримано
    10: K.DELIVERED,  # Відправлення отримано, грошовий переказ надійде протягом доби
    11: K.DELIVERED,  # Відправлення отримано, грошовий переказ видано одержувачу
    14: K.IN_TRANSIT,  # Відправлення передано до огляду отримувачу
    101: K.IN_TRANSIT,  # На шляху до одержувача
    102: K.REFUSED,  # Відмова від отримання (відправником створено замовлення на повернення)
    103: K.REFUSED,  # Відмова одержувача (отримувач відмовився від відправлення)
    104: K.IN_TRANSIT,  # Змінено адресу
    105: K.RETURNED_TO_SENDER,  # Припинено зберігання
    106: K.DELIVERED,  # Одержано і створено ЄН зворотньої доставки
    108: K.REFUSED,  # Відмова одержувача (older table)
    111: K.IN_TRANSIT,  # Невдала спроба доставки через відсутність одержувача
    112: K.IN_TRANSIT,  # Дата доставки перенесена одержувачем
}
NOT_HANDED_OVER = 1
DELETED = 2
NOT_FOUND = 3

AUTH_ERROR_CODES = frozenset({"20000200068", "20000200069"})

WAYBILL = re.compile(r"[0-9]{14}")  # "номер ЕН": 14 digits


class NovaPoshtaAdapter:
    name = "nova_poshta"
    max_batch = 100  # documented: up to 100 documents in one getStatusDocuments
    min_interval = 1.0
    credential_fields = ("api_key",)

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
        self._url = base_url
        self._time_limit = time_limit
        self._pacers = Pacers(self.min_interval, sleep, clock)

    def valid_code(self, code: str) -> bool:
        return isinstance(code, str) and bool(WAYBILL.fullmatch(code))

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]) -> TrackResult:
        given = CarrierCredentials.require(credentials, self.credential_fields)
        account = account_key(given["api_key"])
        phone = given.get("phone")
        to_send, answers = split_valid(codes, self.valid_code, "Nova Poshta")
        done: TrackResult = {}
        for batch in batches(to_send, self.max_batch):
            await self._pacers.wait(account)
            documents = [
                {"DocumentNumber": code, **({"Phone": phone} if phone else {})} for code in batch
            ]
            body = {
                "apiKey": given["api_key"],
                "modelName": "TrackingDocument",
                "calledMethod": "getStatusDocuments",
                "methodProperties": {"Documents": documents},
            }
            try:
                reply = await send(
                    self._transport,
                    "POST",
                    self._url,
                    headers={"Content-Type": "application/json"},
                    body=json_body(body),
                    time_limit=self._time_limit,
                )
                done.update(documents_answer(reply, batch))
            except Malformed as error:
                failure = CarrierError(FailureKind.MALFORMED, f"Nova Poshta: {error}")
                raise failed(failure, {**answers, **done}) from None
            except CarrierError as error:
                raise failed(error, {**answers, **done}) from None
        return {**answers, **done}


def documents_answer(reply: HttpReply, asked: list[str]) -> TrackResult:
    check_size(reply, "Nova Poshta")
    failure = common_failure(reply, "Nova Poshta")
    if failure is not None:
        raise failure
    if not reply.ok:
        raise CarrierError(FailureKind.INVALID, f"Nova Poshta answered {reply.status}")
    answer = json_of(reply)
    if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
        raise Malformed("an answer without success")
    if not answer["success"]:
        raise refusal(answer)
    data = answer.get("data")
    if not isinstance(data, list) or len(data) > len(asked):
        raise Malformed("data is not one item per document asked")
    results: TrackResult = {}
    for item in data:
        number, result = read_document(item)
        if number in asked and number not in results:
            results[number] = result
    for code in asked:
        if code not in results:
            results[code] = TrackingProblem(
                code, ProblemKind.REJECTED, "Nova Poshta did not answer for this waybill"
            )
    return results


def refusal(answer: dict) -> CarrierError:
    codes = answer.get("errorCodes")
    codes = {str(c) for c in codes[:20]} if isinstance(codes, list) else set()
    errors = answer.get("errors")
    words = [clean(e) for e in errors[:5]] if isinstance(errors, list) else []
    words = [w for w in words if w]
    said = "; ".join(words)[:300] or "no reason given"
    if codes & AUTH_ERROR_CODES or "api key" in said.casefold() or "apikey" in said.casefold():
        return CarrierError(FailureKind.UNAUTHORIZED, "Nova Poshta refused the API key")
    return CarrierError(FailureKind.INVALID, f"Nova Poshta refused the request: {said}")


def read_document(item: Any) -> tuple[str, Tracking | TrackingProblem]:
    if not isinstance(item, dict):
        raise Malformed("a document that is not an object")
    number = item.get("Number")
    if not isinstance(number, str | int) or isinstance(number, bool):
        raise Malformed("a document without its number")
    number = str(number)
    raw_code = item.get("StatusCode")
    if isinstance(raw_code, bool) or not isinstance(raw_code, str | int):
        raise Malformed("a document without its StatusCode")
    if not re.fullmatch(r"[0-9]{1,4}", str(raw_code)):
        raise Malformed("a StatusCode that is not a number")
    status_code = int(raw_code)
    status = clean(item.get("Status"))
    if status_code in (DELETED, NOT_FOUND):
        return number, TrackingProblem(number, ProblemKind.NOT_FOUND, status)
    if status_code == NOT_HANDED_OVER:
        return number, Tracking(number)
    kind = STATUS_KINDS.get(status_code, K.IN_TRANSIT)
    checkpoint = Checkpoint(
        kind=kind,
        at=status_time(item, kind),
        location=place(item, kind),
        description=status or str(status_code),
        carrier_code=str(status_code),
    )
    return number, tracked(number, [checkpoint])


def status_time(item: dict, kind: EventKind):
    if kind == K.DELIVERED:
        fields = ("RecipientDateTime", "TrackingUpdateDate", "DateScan", "DateCreated")
    elif kind == K.ARRIVED_AT_PICKUP_POINT:
        fields = ("ActualDeliveryDate", "TrackingUpdateDate", "DateScan", "DateCreated")
    else:
        fields = ("TrackingUpdateDate", "DateScan", "DateCreated")
    for field in fields:
        value = item.get(field)
        if isinstance(value, str) and value.strip() and not value.startswith(NO_DATE):
            return local_time(value, TIME_FORMATS, KYIV)
    raise Malformed("a document without any date")


def place(item: dict, kind: EventKind) -> str:
    if kind in (K.ARRIVED_AT_PICKUP_POINT, K.DELIVERED):
        return clean(item.get("WarehouseRecipient")) or clean(item.get("CityRecipient"))
    if kind == K.ACCEPTED:
        return clean(item.get("CitySender"))
    return ""
