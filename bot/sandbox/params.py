"""A Bot API call's parameters, whatever way they came: query string, JSON, or a form.

aiogram posts multipart/form-data where every value is a string and complex values (reply
markup, entities, media) are JSON strings; other clients post JSON or urlencoded forms, or use
GET. Telegram accepts them all, so values are read loosely here: "123" and 123 are both ints.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

from bot.sandbox.errors import bad_request


class Params:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    @classmethod
    async def read(cls, request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as error:
                    raise bad_request("can't parse JSON request body") from error
                if not isinstance(body, dict):
                    raise bad_request("request body must be a JSON object")
                values.update(body)
            else:
                form = await request.post()
                values.update({key: form[key] for key in form})
        return cls(values)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def get(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, FileField):
            raise bad_request(f'parameter "{name}" must be a string, not a file')
        return value if isinstance(value, str) else json.dumps(value)

    def required_text(self, name: str, missing: str | None = None) -> str:
        value = self.text(name)
        if value is None:
            raise bad_request(missing or f"{name} is empty")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            raise bad_request(f'parameter "{name}" must be a number')
        try:
            return int(value)
        except (TypeError, ValueError) as error:
            raise bad_request(f'parameter "{name}" must be a number') from error

    def required_integer(self, name: str, missing: str | None = None) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(missing or f"{name} is empty")
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def json_value(self, name: str, error: str) -> Any:
        """A JSON value, given as a JSON string (forms) or already parsed (JSON bodies)."""
        value = self.get(name)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(error) from exc

    def file(self, name: str) -> FileField | None:
        value = self.values.get(name)
        return value if isinstance(value, FileField) else None
