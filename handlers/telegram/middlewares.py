"""Middlewares: who is asking, in which language, and one place that turns refusals into answers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18nMiddleware

from handlers.telegram.refusals import describe
from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Refused
from services.shops.users import pick_language

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class IdentityMiddleware(BaseMiddleware):
    """Resolve the Telegram user into our User once per update; handlers get `user` and `actor`.

    `actor` is the identity the order service authorizes; nothing a button carries is trusted.
    """

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]):
        telegram_user = data.get("event_from_user")
        if telegram_user is not None and not telegram_user.is_bot:
            users = data["users"]
            user = await users.touch(
                telegram_user.id,
                name=telegram_user.full_name,
                username=telegram_user.username,
                telegram_language=telegram_user.language_code,
            )
            data["user"] = user
            data["actor"] = ActorRef.user(user.id)
        return await handler(event, data)


class LanguageMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        telegram_user = data.get("event_from_user")
        return pick_language(
            user.language if user is not None else None,
            telegram_user.language_code if telegram_user is not None else None,
        )


class RefusalMiddleware(BaseMiddleware):
    """A refused request changes nothing; the person is told why, in their language."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]):
        try:
            return await handler(event, data)
        except (OrderRefused, Refused) as refusal:
            text = describe(refusal)
            if isinstance(event, CallbackQuery) and "callback_answer" in data:
                answer = data["callback_answer"]
                answer.text, answer.show_alert = text, True
            elif isinstance(event, CallbackQuery):
                await event.answer(text, show_alert=True)
            elif isinstance(event, Message):
                await event.answer(text)
            return None
        except TelegramBadRequest as error:
            # A second tap that would redraw the card unchanged: nothing to do.
            if "message is not modified" in str(error):
                return None
            raise
