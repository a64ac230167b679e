"""Every Telegram update, polled or posted to the webhook: its id in the logs, its count in
the metrics (G2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update

from services import metrics
from services.log_context import ORDER, UPDATE_ID


class UpdateTracking(BaseMiddleware):
    """The outermost update middleware: sets the log context, counts the outcome."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        UPDATE_ID.set(event.update_id)
        ORDER.set(None)
        kind = event.event_type
        try:
            result = await handler(event, data)
        except Exception:
            metrics.UPDATES.labels(kind, "failed").inc()
            raise
        metrics.UPDATES.labels(kind, "not_handled" if result is UNHANDLED else "handled").inc()
        return result
