"""Bot API calls without files posted as one JSON body instead of a urlencoded form.

aiogram posts every call as a form: each complex value (a keyboard, entities) is a JSON string,
and then the whole form is percent-encoded, byte by byte in Python for every non-ASCII byte.
A card is Cyrillic text and a keyboard of Cyrillic buttons, so that encoding was the largest
single cost of building a tap's edit request (issue 15), and the server had to decode it again.
The Bot API takes `application/json` for any call that uploads nothing, with the same
parameters; a call with files (`InputFile`) still goes as aiogram's multipart form.

Inline keyboards (a card carries ten buttons) are written to the body by pydantic's own JSON
serializer, not dumped into dictionaries and walked value by value by aiogram's preparation:
their fields are plain values and plain objects, nothing for the preparation to resolve, and
what it would drop (None) the serializer leaves out too.

A call marked `reply_unread` (handlers.telegram.card_edits: a card redrawn) is answered
`True` once Telegram said ok, its result not parsed; any other answer is checked by aiogram
as always, so its errors raise the same exceptions.

getUpdates' answer is checked by aiogram as any other, but its updates are made into
aiogram's models a few at a time, the event loop free between them: a batch of 100 taps on
cards (each update carries the card's text and keyboard) took ~16 ms to parse in one go, a
stall of everything else on the loop once per batch during a burst (issue 15,
bench/bench_burst.py).
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardMarkup, Update
from aiohttp import FormData
from aiohttp.payload import BytesPayload
from pydantic import ValidationError

_DONE = Response[bool](ok=True, result=True)
# Updates made into models between two turns of the event loop (~0.15 ms each for a tap).
UPDATES_PER_TURN = 8


class _RawUpdates(GetUpdates):
    """getUpdates, its answer's updates left as JSON objects (JsonBodySession parses them)."""

    __returning__ = list[Any]


# Held for the process's life, as bot.telegram_responses pins aiogram's own: pydantic keeps
# its parameterised classes weakly and would build this one again for many polls.
_RAW_UPDATES_ANSWER = Response[_RawUpdates.__returning__]


class JsonBodySession(AiohttpSession):
    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> Any:
        if type(method) is not GetUpdates:
            return await super().make_request(bot, method, timeout)
        raw = await super().make_request(bot, _RawUpdates(**dict(method)), timeout)
        updates = []
        for index, data in enumerate(raw):
            if index and index % UPDATES_PER_TURN == 0:
                await asyncio.sleep(0)  # the rest of the loop's work between a few updates
            try:
                updates.append(Update.model_validate(data, context={"bot": bot}))
            except ValidationError as error:  # as aiogram's check of the whole answer says it
                raise ClientDecodeError("Failed to deserialize object", error, data) from error
        return updates

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        ok_status = HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED
        if ok_status and getattr(method, "reply_unread", False):
            try:
                answer = json.loads(content)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and answer.get("ok") is True:
                return _DONE
        return super().check_response(bot, method, status_code, content)

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData | BytesPayload:
        keyboards = {
            key: value.model_dump_json(exclude_none=True)
            for key, value in method
            if isinstance(value, InlineKeyboardMarkup)
        }
        files: dict[str, Any] = {}
        values: dict[str, Any] = {}
        dumped = method.model_dump(warnings=False, exclude_none=True, exclude=set(keyboards))
        for key, value in dumped.items():
            # aiogram's own preparation (defaults such as parse_mode, enums, dates, nested
            # objects), left as JSON values rather than strings: the body is dumped once.
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue  # what aiogram's form leaves out
            values[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        body = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        if keyboards:
            members = [body[1:-1]] if values else []
            members += [f"{json.dumps(key)}:{keyboard}" for key, keyboard in keyboards.items()]
            body = "{" + ",".join(members) + "}"
        return BytesPayload(body.encode(), content_type="application/json")
