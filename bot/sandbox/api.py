"""The Bot API over HTTP: `/bot<token>/<method>` and the file route `/file/bot<token>/<path>`.

Answers are Telegram's envelope: `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {...}}` with the same
HTTP status, which is what aiogram's `check_response` turns into its exceptions.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from bot.sandbox.errors import NOT_FOUND, UNAUTHORIZED, ApiError
from bot.sandbox.methods import REGISTRY, Context
from bot.sandbox.params import Params

log = logging.getLogger(__name__)

TOKEN = re.compile(r"(\d{1,20}):[A-Za-z0-9_-]{1,100}")
ENTITY_TOO_LARGE = ApiError(413, "Request Entity Too Large")


class BotApi:
    def __init__(self, context: Context, *, bot_id: int | None = None) -> None:
        self.context = context
        self.world = context.world
        if bot_id is not None:
            self._bind(bot_id)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/bot{token}/{method}", self.handle),
            web.get("/file/bot{token}/{path:.+}", self.download),
        ]

    async def call(self, method: str, params: Params) -> Any:
        """Run one Bot API method; raises ApiError as Telegram would answer."""
        try:
            handler = REGISTRY.get(method.lower())
            if handler is None:
                raise NOT_FOUND
            return await handler(self.context, params)
        except ApiError as error:
            self.world.api_errors.append((method, error.description))
            raise

    async def handle(self, request: web.Request) -> web.Response:
        try:
            self.authorize(request.match_info["token"])
            params = await Params.read(request)
            result = await self.call(request.match_info["method"], params)
        except ApiError as error:
            return web.json_response(error.to_api(), status=error.status)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(ENTITY_TOO_LARGE.to_api(), status=413)
        except Exception:
            log.exception("the emulator failed on %s", request.match_info["method"])
            error = ApiError(500, "Internal Server Error: the emulator failed, see its log")
            return web.json_response(error.to_api(), status=500)
        return web.json_response({"ok": True, "result": result})

    async def download(self, request: web.Request) -> web.Response:
        try:
            self.authorize(request.match_info["token"])
        except ApiError as error:
            return web.json_response(error.to_api(), status=error.status)
        stored = self.world.file_by_path(request.match_info["path"])
        if stored is None:
            return web.json_response(NOT_FOUND.to_api(), status=404)
        return web.Response(
            body=stored.content, content_type=stored.mime or "application/octet-stream"
        )

    def authorize(self, token: str) -> None:
        """Any well-formed token is accepted; its digits are the bot's id from then on."""
        match = TOKEN.fullmatch(token)
        if match is None:
            raise UNAUTHORIZED
        bot_id = int(match.group(1))
        if not self.world.bot_bound:
            self._bind(bot_id)
            self.world.bot_token = token
        elif bot_id != self.world.bot.id:
            # One emulator is one bot: another bot's token is unknown here.
            raise UNAUTHORIZED

    def _bind(self, bot_id: int) -> None:
        self.world.bot.id = bot_id
        self.world.bot_bound = True
