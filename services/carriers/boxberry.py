"""Boxberry: the JSON API's `ListStatuses` (a parcel's statuses by its track code).

Written from Boxberry's public API documentation (the "web-сервисы Boxberry" API of
api.boxberry.ru/json.php, now published as Yandex Delivery's Boxberry API collection):
`GET json.php?token=&method=ListStatuses&ImId=` answers a list of {Date, Name, Comment}
(example: [{"Date": "2024-02-07 13:38:13", "Name": "Загружен реестр ИМ"}, ...]; older
answers write "2019-05-01T00:56:13"), and any error as {"err": "..."} (also "err": true with
a "message"). The documentation names no error codes, so a refused token is told from an
unknown parcel by the error's words about the token or key; everything else is about the
parcel. Times carry no zone: Boxberry works in Moscow time and they are read as such.

Boxberry's status names (its status dictionary: code, name, meaning) are matched by name,
since ListStatuses gives names only. "Загружен реестр ИМ" (the shop's registry uploaded) and
"Заказ создан в личном кабинете" are the shop's paperwork and make no checkpoint. A name not
in the dictionary is kept as in_transit: Boxberry's other statuses all describe the parcel
between warehouses, terminals and couriers, and an unknown one is never taken for an end.
"Возвращено с курьерской доставки" is a courier bringing it back to the warehouse for another
try, not a return; "Готовится к возврату" still lies at the pickup point; the return begins
with "Отправлено в пункт приема".

Rate: Boxberry publishes no request rate; one request a second per token is this adapter's
own restraint. One parcel a request (ImId).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

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
    MOSCOW,
    TIME_LIMIT,
    Malformed,
    Pacers,
    Sleep,
    account_key,
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
from services.outside.http import HttpReply, Transport
from services.time.clock import Clock

DEFAULT_URL = "https://api.boxberry.ru/json.php"
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M")

K = EventKind

STATUS_KINDS: dict[str, EventKind] = {
    "принято к доставке": K.ACCEPTED,  # 1: груз промаркирован и принят на складе Боксберри
    "передано на сортировку": K.IN_TRANSIT,  # 2
    "отправлен на сортировочный терминал": K.IN_TRANSIT,  # 3
    "отправлено в город назначения": K.IN_TRANSIT,  # 6
    "передан на доставку до пункта выдачи": K.IN_TRANSIT,  # 16
    "передано на курьерскую доставку": K.IN_TRANSIT,  # 7
    "поступило в пункт выдачи": K.ARRIVED_AT_PICKUP_POINT,  # 21: готов к получению
    "выдано": K.DELIVERED,  # 22: заказ выдан получателю
    "возвращено с курьерской доставки": K.IN_TRANSIT,  # 13
    "готовится к возврату": K.IN_TRANSIT,  # 19: по факту находится в пункте выдачи
    "отправлено в пункт приема": K.RETURNED_TO_SENDER,  # 17: заказ отправлен на возврат
    "возвращено в пункт приема": K.RETURNED_TO_SENDER,  # 20: на складе возвратов
    "возвращено в им": K.RETURNED_TO_SENDER,  # 8: заказ отправлен в интернет-магазин
}
PAPERWORK = frozenset({"загружен реестр им", "заказ создан в личном кабинете"})

# Boxberry track codes: letters then digits (AAP298792807, DUD15086277).
TRACK_CODE = re.compile(r"[A-Z]{2,4}[0-9]{6,12}")
TOKEN_WORDS = ("токен", "token", "ключ", "key", "авториз", "author")


class BoxberryAdapter:
    name = "boxberry"
    max_batch = 1
    min_interval = 1.0
    credential_fields = ("token",)

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
        return isinstance(code, str) and bool(TRACK_CODE.fullmatch(code))

    async def track(self, credentials: Mapping[str, str], codes: Sequence[str]) -> TrackResult:
        given = CarrierCredentials.require(credentials, self.credential_fields)
        account = account_key(given["token"])
        to_send, answers = split_valid(codes, self.valid_code, "Boxberry")
        done: TrackResult = {}
        for code in to_send:
            await self._pacers.wait(account)
            query = urlencode({"token": given["token"], "method": "ListStatuses", "ImId": code})
            try:
                reply = await send(
                    self._transport, "GET", f"{self._url}?{query}", time_limit=self._time_limit
                )
                done[code] = statuses_answer(reply, code)
            except Malformed as error:
                failure = CarrierError(FailureKind.MALFORMED, f"Boxberry: {error}")
                raise failed(failure, {**answers, **done}) from None
            except CarrierError as error:
                raise failed(error, {**answers, **done}) from None
        return {**answers, **done}


def statuses_answer(reply: HttpReply, code: str) -> Tracking | TrackingProblem:
    check_size(reply, "Boxberry")
    failure = common_failure(reply, "Boxberry")
    if failure is not None:
        raise failure
    if not reply.ok:
        raise CarrierError(FailureKind.INVALID, f"Boxberry answered {reply.status}")
    answer = json_of(reply)
    error = error_text(answer)
    if error is not None:
        if any(word in error.casefold() for word in TOKEN_WORDS):
            raise CarrierError(FailureKind.UNAUTHORIZED, "Boxberry refused the token")
        return TrackingProblem(code, ProblemKind.NOT_FOUND, error)
    if not isinstance(answer, list):
        raise Malformed("statuses are not a list")
    if len(answer) > MAX_CHECKPOINTS:
        raise Malformed(f"{len(answer)} statuses for one parcel")
    checkpoints = [read_status(status) for status in answer]
    return tracked(code, [checkpoint for checkpoint in checkpoints if checkpoint is not None])


def error_text(answer: Any) -> str | None:
    """The error of {"err": "..."} (or [{"err": ...}]); None when the answer is no error."""
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], dict):
        if "err" in answer[0]:
            answer = answer[0]
    if not isinstance(answer, dict) or "err" not in answer:
        return None
    err = answer["err"]
    if err is False or err in ("", None):
        return None
    if isinstance(err, str):
        return clean(err) or "error"
    return clean(answer.get("message")) or "error"


def read_status(status: Any) -> Checkpoint | None:
    if not isinstance(status, dict):
        raise Malformed("a status that is not an object")
    name = clean(status.get("Name"))
    if not name:
        raise Malformed("a status without its name")
    at = local_time(status.get("Date"), TIME_FORMATS, MOSCOW)
    key = name.casefold()
    if key in PAPERWORK:
        return None
    comment = clean(status.get("Comment"))
    return Checkpoint(
        kind=STATUS_KINDS.get(key, K.IN_TRANSIT),
        at=at,
        location=comment,  # Boxberry puts the pickup point's city and address here
        description=name,
        carrier_code=name,  # ListStatuses carries no numeric code: the name is the code
    )
