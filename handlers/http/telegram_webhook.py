"""Webhook mode (G2): Telegram POSTs each update to WEBHOOK_URL, any instance may receive it.

The request must carry the secret set with setWebhook (compared in constant time; anything
else is 401 and handled by no one). Each update is taken in the shared update log first
(services/messaging/telegram_updates.py): a redelivery of an update another instance is handling or
has handled is acknowledged with 200 and dropped. The answer is sent after the update was
handled, so a failure answers 500 and Telegram delivers it again, to be handled afresh.
"""

from __future__ import annotations

import hmac
import json
import logging
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from services import metrics
from services.log_context import UPDATE_ID
from services.messaging.telegram_updates import UpdateLog

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is small; a bigger body is not from Telegram.
MAX_UPDATE_BYTES = 1024 * 1024


def webhook_path(webhook_url: str) -> str:
    """The path the bot serves the webhook on: WEBHOOK_URL's own (behind a proxy the public
    address differs, the path is kept)."""
    return urlsplit(webhook_url).path or "/"


class TelegramWebhook:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, updates: UpdateLog, secret: str):
        self._dispatcher = dispatcher
        self._bot = bot
        self._updates = updates
        self._secret = secret.encode()

    def route(self, path: str) -> web.RouteDef:
        return web.post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.json_response({"ok": False}, status=401)
        if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
            return web.json_response({"ok": False}, status=413)
        try:
            update = Update.model_validate(
                json.loads(await request.read()), context={"bot": self._bot}
            )
        except (ValueError, ValidationError) as error:
            log.warning("webhook: not an update: %s", str(error)[:200])
            return web.json_response({"ok": False}, status=400)
        UPDATE_ID.set(update.update_id)
        if not await self._updates.take(update.update_id):
            metrics.UPDATES.labels(update.event_type, "duplicate").inc()
            log.info("update %s delivered again; already taken", update.update_id)
            return web.json_response({})
        try:
            await self._dispatcher.feed_update(self._bot, update)
        except Exception:
            log.exception("update %s failed; Telegram will deliver it again", update.update_id)
            await self._updates.give_back(update.update_id)
            return web.json_response({"ok": False}, status=500)
        await self._updates.done(update.update_id)
        return web.json_response({})
