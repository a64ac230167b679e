"""The card registry of the update being handled, for drawing cards anywhere in a handler.

A card drawn in place (a tap redraws its own card) records what it now shows, so the redraw
the notification pump does for the same change finds nothing new and sends nothing (Telegram
would answer "message is not modified"). Handlers get the registry as `cards`; the helpers
that draw cards are called from many of them, so the middleware also makes it the update's,
the way aiogram's i18n makes the locale the update's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from services.messaging.cards import CardRegistry

_current: ContextVar[CardRegistry | None] = ContextVar("current_cards", default=None)


def current_cards() -> CardRegistry | None:
    return _current.get()


class CardMemoryMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        token = _current.set(data.get("cards"))
        try:
            return await handler(event, data)
        finally:
            _current.reset(token)
