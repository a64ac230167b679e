"""Webhook mode (G2): Telegram POSTs each update to WEBHOOK_URL, any instance may receive it.

The request must carry the secret set with setWebhook (compared in constant time; anything
else is 401 and handled by no one). Each update is taken in the shared update log first
(services/messaging/telegram_updates.py): a redelivery of an update another instance is handling or
has handled is acknowledged with 200 and dropped. The answer is sent after the update was
handled, so a failure answers 500 and Telegram delivers it again, to be handled afresh.

A poison update (its handling raised `POISON_AFTER` times) is acknowledged with 200, so
Telegram stops redelivering it (and holding up what comes after it); it is kept in the update
log with its body for the operator (an ERROR log line, metric shopbot_updates{outcome="poison"})
and the person who sent it gets an apology instead of silence.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.types import CallbackQuery, Update
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiohttp import web
from pydantic import ValidationError

from services import metrics
from services.log_context import UPDATE_ID
from services.messaging.telegram_updates import UpdateLog
from services.shops.users import pick_language

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# An update is small; a bigger body is not from Telegram.
MAX_UPDATE_BYTES = 1024 * 1024


def webhook_path(webhook_url: str) -> str:
    """The path the bot serves the webhook on: WEBHOOK_URL's own (behind a proxy the public
    address differs, the path is kept)."""
    return urlsplit(webhook_url).path or "/"


class TelegramWebhook:
    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        updates: UpdateLog,
        secret: str,
        *,
        i18n: I18n,  # for the apology after a poison update
    ):
        self._dispatcher = dispatcher
        self._bot = bot
        self._updates = updates
        self._secret = secret.encode()
        self._i18n = i18n

    def route(self, path: str) -> web.RouteDef:
        return web.post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.json_response({"ok": False}, status=401)
        if request.content_length is not None and request.content_length > MAX_UPDATE_BYTES:
            return web.json_response({"ok": False}, status=413)
        try:
            body = json.loads(await request.read())
            update = Update.model_validate(body, context={"bot": self._bot})
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
        except Exception as error:
            sender = getattr(update.event, "from_user", None)
            poison = await self._updates.failed(
                update.update_id,
                f"{type(error).__name__}: {error}",
                body=body,
                from_id=sender.id if sender is not None else None,
            )
            if not poison:
                log.exception("update %s failed; Telegram will deliver it again", update.update_id)
                return web.json_response({"ok": False}, status=500)
            log.exception(
                "update %s failed again: acknowledged, kept for the operator", update.update_id
            )
            metrics.UPDATES.labels(update.event_type, "poison").inc()
            await self._apologise(update)
            return web.json_response({})
        await self._updates.done(update.update_id)
        return web.json_response({})

    async def _apologise(self, update: Update) -> None:
        """Tell the person their request was not carried out (best effort: Telegram may be
        the trouble itself)."""
        event: Any = update.event
        sender = getattr(event, "from_user", None)
        language = pick_language(None, sender.language_code if sender is not None else None)
        text = self._text(language)
        try:
            if isinstance(event, CallbackQuery):
                await self._bot.answer_callback_query(event.id, text, show_alert=True)
            elif (chat := getattr(event, "chat", None)) is not None:
                await self._bot.send_message(chat.id, text)
        except Exception:
            log.warning("update %s: the apology could not be sent", update.update_id, exc_info=True)

    def _text(self, language: str) -> str:
        with self._i18n.context(), self._i18n.use_locale(language):
            return _(
                "Sorry, something went wrong on our side and your request was not carried out. "
                "We have kept it to look into; please try again later."
            )
