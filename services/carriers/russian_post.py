"""Russian Post: the tracking service's single access (SOAP 1.2, `getOperationHistory`).

Written from the public specification of the Russian Post tracking API (tracking.pochta.ru,
"Единичный доступ", SOAP 1.2 at https://tracking.russianpost.ru/rtm34; request elements
OperationHistoryRequest{Barcode, MessageType, Language} and AuthorizationHeader{login,
password} with mustUnderstand=1; answer OperationHistoryData/historyRecord; faults
AuthorizationFault, OperationHistoryFault, LanguageFault) and its dictionary of operations and
attributes (tracking.pochta.ru/support/dictionaries/operation_codes: types 1-52, attributes as
published with 2:1-2:14, 3:1-3:15, 5:1-5:3, 5:8, 8:0-8:49, plus 2:25 of the current edition).

Why single access only: the batch ("ticket") service is offered to contract clients only and
gives operation times as local wall-clock time without a zone (DD.MM.YYYY HH:MM:SS), so they
cannot be turned into UTC; single access gives ISO times with their offset.

Rate: everyone registered gets 100 single requests a day (contract clients: unlimited), so
`min_interval` defaults to 86400/100 s per login; a deployment with a contract sets
`daily_quota=None`.

Mapping decisions (the dictionary's words in the comments): an operation type is mapped as a
whole unless its attributes differ in meaning (2 handed to addressee vs. to sender, 3 refusal,
5 lost vs. mis-sent, 8 arrived where the buyer collects it, 26 cancelled). Paperwork about the
item rather than its journey (identifier assigned, electronic registration, pre-registration)
is no checkpoint. An operation or attribute not in the dictionary we were written from is
kept as `in_transit` with the carrier's words: every operation in the history is a handling of
the item on its way, and an unknown one is never taken for an end.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeXml
from defusedxml import DefusedXmlException

from services.carriers.base import (
    CarrierCredentials,
    CarrierError,
    Checkpoint,
    EventKind,
    FailureKind,
    ProblemKind,
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
    send,
    split_valid,
    tracked,
)
from services.outside.http import Transport
from services.time.clock import Clock

DEFAULT_URL = "https://tracking.russianpost.ru/rtm34"
FREE_DAILY_QUOTA = 100

SOAP = "http://www.w3.org/2003/05/soap-envelope"
DATA = "http://russianpost.org/operationhistory/data"
OPERATIONS = "http://russianpost.org/operationhistory"

K = EventKind

# Operation type -> kind for all its attributes, unless ATTRIBUTE_KINDS says otherwise.
TYPE_KINDS: dict[int, EventKind] = {
    1: K.ACCEPTED,  # Прием
    2: K.IN_TRANSIT,  # Вручение: only the attributes below say to whom
    3: K.RETURNED_TO_SENDER,  # Возврат
    4: K.IN_TRANSIT,  # Досылка почты
    5: K.IN_TRANSIT,  # Невручение: see attributes
    6: K.ARRIVED_AT_PICKUP_POINT,  # Хранение (до востребования, абонементный ящик, срок хранения)
    7: K.IN_TRANSIT,  # Временное хранение (нероздано, невостребовано)
    8: K.IN_TRANSIT,  # Обработка
    9: K.IN_TRANSIT,  # Импорт международной почты
    10: K.IN_TRANSIT,  # Экспорт международной почты
    11: K.IN_TRANSIT,  # Прием на таможню
    12: K.IN_TRANSIT,  # Неудачная попытка вручения
    13: K.IN_TRANSIT,  # Регистрация отправки
    14: K.IN_TRANSIT,  # Таможенное оформление
    15: K.IN_TRANSIT,  # Передача на временное хранение
    16: K.LOST,  # Уничтожение
    17: K.LOST,  # Оформление в собственность
    18: K.LOST,  # Регистрация утраты
    19: K.IN_TRANSIT,  # Таможенные платежи поступили
    20: K.IN_TRANSIT,  # Регистрация
    21: K.DELIVERED,  # Доставка (в почтовый ящик, в руки под роспись, на ресепшн)
    22: K.IN_TRANSIT,  # Недоставка
    23: K.IN_TRANSIT,  # Поступление на временное хранение
    24: K.IN_TRANSIT,  # Продление срока выпуска таможней
    25: K.IN_TRANSIT,  # Вскрытие
    26: K.RETURNED_TO_SENDER,  # Отмена (требование отправителя); 26:2 is paperwork
    29: K.IN_TRANSIT,  # Регистрация прохождения в ММПО
    30: K.IN_TRANSIT,  # Отправка SRM
    31: K.IN_TRANSIT,  # Обработка перевозчиком
    32: K.IN_TRANSIT,  # Поступление АПО
    33: K.IN_TRANSIT,  # Международная обработка
    35: K.IN_TRANSIT,  # Отказ в курьерской доставке (the item stays at the office)
    36: K.IN_TRANSIT,  # Уточнение вида оплаты доставки
    38: K.IN_TRANSIT,  # Задержка для уточнений у отправителя
    39: K.IN_TRANSIT,  # Таможенное декларирование
    40: K.IN_TRANSIT,  # Таможенный контроль
    41: K.IN_TRANSIT,  # Обработка таможенных платежей
    42: K.IN_TRANSIT,  # Вторая неудачная попытка вручения
    43: K.IN_TRANSIT,  # Вручение разрешено
    48: K.DELIVERED,  # Частичное вручение: the buyer took (part of) it
    49: K.IN_TRANSIT,  # Отказ в продлении срока хранения
    50: K.IN_TRANSIT,  # Неудачная доставка в АПС
    51: K.IN_TRANSIT,  # Неудачная доставка в ПВЗ
    52: K.IN_TRANSIT,  # Отказ в резервировании ячейки АПС
}

ATTRIBUTE_KINDS: dict[tuple[int, int], EventKind] = {
    (2, 1): K.DELIVERED,  # Вручение адресату
    (2, 2): K.RETURNED_TO_SENDER,  # Вручение отправителю
    (2, 3): K.DELIVERED,  # Выдано адресату через почтомат
    (2, 4): K.RETURNED_TO_SENDER,  # Выдано отправителю через почтомат
    (2, 5): K.DELIVERED,  # Адресату электронно
    (2, 6): K.DELIVERED,  # Адресату почтальоном
    (2, 7): K.RETURNED_TO_SENDER,  # Отправителю почтальоном
    (2, 8): K.DELIVERED,  # Адресату курьером
    (2, 9): K.RETURNED_TO_SENDER,  # Отправителю курьером
    (2, 10): K.DELIVERED,  # Адресату с контролем ответа
    (2, 11): K.DELIVERED,  # Адресату с контролем ответа почтальоном
    (2, 12): K.DELIVERED,  # Адресату с контролем ответа курьером
    (2, 13): K.DELIVERED,  # Вручение адресату по ПЭП
    (2, 25): K.DELIVERED,  # Адресату по QR коду
    (3, 4): K.REFUSED,  # Возврат: Отказ адресата
    (5, 1): K.LOST,  # Невручение: Утрачено
    (5, 2): K.LOST,  # Невручение: Изъято
    (5, 8): K.LOST,  # Невручение: Решение таможни
    (8, 2): K.ARRIVED_AT_PICKUP_POINT,  # Прибыло в место вручения
    (8, 9): K.ARRIVED_AT_PICKUP_POINT,  # Прибыло в почтомат
    (8, 14): K.ARRIVED_AT_PICKUP_POINT,  # Прибыло в Центр выдачи посылок
    (8, 39): K.ARRIVED_AT_PICKUP_POINT,  # Сдано в ПВЗ
}

# Paperwork about the item, not a step of its journey: no checkpoint.
NOT_JOURNEY_TYPES = frozenset(
    {
        27,  # Получена электронная регистрация
        28,  # Присвоение идентификатора
        34,  # Электронное уведомление загружено
        37,  # Предварительное оформление
        44,  # Отказ в приеме (the office did not take it: it never left the sender)
        45,  # Отказ от отправки электронного уведомления получателем
        46,  # Отмена присвоения идентификатора
        47,  # Подтверждение возможности приема
    }
)
NOT_JOURNEY_ATTRIBUTES = frozenset({(26, 2)})  # Отмена: ошибка оператора (a correction)

# Domestic identifiers are 14 digits; international ones are UPU S10: two letters, eight
# digits, a check digit, the country's two letters.
DOMESTIC = re.compile(r"\d{14}")
S10 = re.compile(r"[A-Z]{2}(\d{8})(\d)[A-Z]{2}")
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def s10_check_digit(serial: str) -> int:
    remainder = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    return {0: 5, 1: 0}.get(remainder, 11 - remainder)


def kind_of(oper_type: int, oper_attr: int | None) -> EventKind | None:
    """None for paperwork that is no step of the parcel's journey."""
    if oper_type in NOT_JOURNEY_TYPES or (oper_type, oper_attr) in NOT_JOURNEY_ATTRIBUTES:
        return None
    if oper_attr is not None and (oper_type, oper_attr) in ATTRIBUTE_KINDS:
        return ATTRIBUTE_KINDS[(oper_type, oper_attr)]
    return TYPE_KINDS.get(oper_type, K.IN_TRANSIT)


class RussianPostAdapter:
    name = "russian_post"
    max_batch = 1  # single access: one identifier a request
    credential_fields = ("login", "password")

    def __init__(
        self,
        transport: Transport,
        base_url: str = DEFAULT_URL,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock | None = None,
        daily_quota: int | None = FREE_DAILY_QUOTA,
        time_limit: float = TIME_LIMIT,
    ):
        self._transport = transport
        self._url = base_url
        self._time_limit = time_limit
        self.min_interval = 86400 / daily_quota if daily_quota else 1.0
        self._pacers = Pacers(self.min_interval, sleep, clock)

    def valid_code(self, code: str) -> bool:
        if not isinstance(code, str):
            return False
        if DOMESTIC.fullmatch(code):
            return True
        match = S10.fullmatch(code)
        return bool(match) and s10_check_digit(match.group(1)) == int(match.group(2))

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]) -> TrackResult:
        given = CarrierCredentials.require(credentials, self.credential_fields)
        account = account_key(given["login"], given["password"])
        to_send, answers = split_valid(codes, self.valid_code, "Russian Post")
        done: TrackResult = {}
        for code in to_send:
            await self._pacers.wait(account)
            try:
                done[code] = await self._one(given, code)
            except CarrierError as error:
                raise failed(error, {**answers, **done}) from None
        return {**answers, **done}

    async def _one(self, given: CarrierCredentials, code: str):
        reply = await send(
            self._transport,
            "POST",
            self._url,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
            body=request_body(code, given["login"], given["password"]),
            time_limit=self._time_limit,
        )
        check_size(reply, "Russian Post")
        if reply.status in (401, 403, 429):
            raise common_failure(reply, "Russian Post")  # type: ignore[misc]
        try:
            body = envelope_body(reply.body)
        except Malformed as error:
            if reply.status >= 500:
                raise CarrierError(
                    FailureKind.UNAVAILABLE, f"Russian Post answered {reply.status}"
                ) from None
            raise CarrierError(FailureKind.MALFORMED, f"Russian Post: {error}") from None
        fault = body.find(f"{{{SOAP}}}Fault")
        if fault is not None:
            return fault_answer(fault, code)
        if not reply.ok:
            failure = common_failure(reply, "Russian Post")
            raise failure or CarrierError(
                FailureKind.MALFORMED, f"Russian Post answered {reply.status} without a fault"
            )
        try:
            return history(body, code)
        except Malformed as error:
            raise CarrierError(FailureKind.MALFORMED, f"Russian Post: {error}") from None


def request_body(code: str, login: str, password: str) -> bytes:
    """The documented request (specification, "Пример запроса"), values escaped."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP}" xmlns:oper="{OPERATIONS}" xmlns:data="{DATA}"'
        ' xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soap:Header/><soap:Body><oper:getOperationHistory>"
        "<data:OperationHistoryRequest>"
        f"<data:Barcode>{escape(code)}</data:Barcode>"
        "<data:MessageType>0</data:MessageType><data:Language>RUS</data:Language>"
        "</data:OperationHistoryRequest>"
        '<data:AuthorizationHeader soapenv:mustUnderstand="1">'
        f"<data:login>{escape(login)}</data:login>"
        f"<data:password>{escape(password)}</data:password>"
        "</data:AuthorizationHeader>"
        "</oper:getOperationHistory></soap:Body></soap:Envelope>"
    ).encode()


def envelope_body(raw: bytes) -> Element:
    try:
        # No DTD at all: a SOAP answer has none, and a DTD is how entity bombs arrive.
        root = SafeXml.fromstring(raw, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, RecursionError) as error:
        raise Malformed(f"not XML ({type(error).__name__})") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise Malformed("not a SOAP 1.2 envelope")
    body = root.find(f"{{{SOAP}}}Body")
    if body is None:
        raise Malformed("a SOAP envelope without a body")
    return body


def fault_answer(fault: Element, code: str) -> TrackingProblem:
    reason = clean(fault.findtext(f"{{{SOAP}}}Reason/{{{SOAP}}}Text"))
    detail = fault.find(f"{{{SOAP}}}Detail")
    if detail is not None:
        if detail.find(f"{{{DATA}}}AuthorizationFaultReason") is not None:
            raise CarrierError(FailureKind.UNAUTHORIZED, "Russian Post refused the login")
        history_fault = detail.find(f"{{{DATA}}}OperationHistoryFaultReason")
        if history_fault is not None:
            return TrackingProblem(code, ProblemKind.REJECTED, clean(history_fault.text) or reason)
        if detail.find(f"{{{DATA}}}LanguageFaultReason") is not None:
            raise CarrierError(FailureKind.INVALID, "Russian Post refused the language asked for")
    fault_code = fault.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Value") or ""
    if fault_code.endswith(":Sender"):
        raise CarrierError(FailureKind.INVALID, f"Russian Post refused the request: {reason}")
    raise CarrierError(FailureKind.UNAVAILABLE, f"Russian Post failed: {reason}")


def history(body: Element, code: str):
    response = body.find(f"{{{OPERATIONS}}}getOperationHistoryResponse")
    if response is None:
        raise Malformed("no getOperationHistoryResponse")
    data = response.find(f"{{{DATA}}}OperationHistoryData")
    if data is None:
        raise Malformed("no OperationHistoryData")
    records = data.findall(f"{{{DATA}}}historyRecord")
    if len(records) > MAX_CHECKPOINTS:
        raise Malformed(f"{len(records)} operations for one item")
    checkpoints = []
    for record in records:
        checkpoint = read_record(record)
        if checkpoint is not None:
            checkpoints.append(checkpoint)
    # No records: "над отправлением еще не зарегистрировано ни одной операции".
    return tracked(code, checkpoints)


def read_record(record: Element) -> Checkpoint | None:
    operation = record.find(f"{{{DATA}}}OperationParameters")
    if operation is None:
        raise Malformed("a historyRecord without OperationParameters")
    oper_type = number(operation.findtext(f"{{{DATA}}}OperType/{{{DATA}}}Id"), "OperType")
    attr_text = operation.findtext(f"{{{DATA}}}OperAttr/{{{DATA}}}Id")
    oper_attr = number(attr_text, "OperAttr") if attr_text not in (None, "") else None
    kind = kind_of(oper_type, oper_attr)
    if kind is None:
        return None
    type_name = clean(operation.findtext(f"{{{DATA}}}OperType/{{{DATA}}}Name"))
    attr_name = clean(operation.findtext(f"{{{DATA}}}OperAttr/{{{DATA}}}Name"))
    place = record.find(f"{{{DATA}}}AddressParameters/{{{DATA}}}OperationAddress")
    location = ""
    if place is not None:
        location = clean(
            " ".join(
                part
                for part in (
                    place.findtext(f"{{{DATA}}}Index"),
                    place.findtext(f"{{{DATA}}}Description"),
                )
                if part
            )
        )
    return Checkpoint(
        kind=kind,
        at=iso_time(operation.findtext(f"{{{DATA}}}OperDate")),
        location=location,
        description=f"{type_name}: {attr_name}"
        if attr_name and type_name
        else type_name or attr_name,
        carrier_code=f"{oper_type}:{oper_attr}" if oper_attr is not None else str(oper_type),
    )


def number(text: str | None, what: str) -> int:
    value = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,6}", value):
        raise Malformed(f"{what} is not a number")
    return int(value)
