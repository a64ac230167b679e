"""Pin aiogram's parameterised `Response[T]` classes for the life of the process.

aiogram parses every Bot API answer with `Response[method.__returning__]`. Pydantic keeps the
classes it builds for `Response[T]` only weakly, so they are collected between calls and
rebuilt (a pydantic schema and validator each time, milliseconds) on almost every request:
the profile of a status tap spent half its Bot API time there. Holding one strong reference
to each makes `Response[T]` a dictionary look-up.
"""

from __future__ import annotations

import logging

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod

log = logging.getLogger(__name__)

_PINNED: dict[object, type] = {}


def pin_response_classes() -> int:
    """Build `Response[T]` for every Bot API method once and keep it; returns how many.
    Idempotent: later calls find them pinned."""
    if _PINNED:
        return len(_PINNED)
    for name in methods.__all__:
        method = getattr(methods, name, None)
        if (
            not isinstance(method, type)
            or not issubclass(method, TelegramMethod)
            or method is TelegramMethod
        ):
            continue
        returning = getattr(method, "__returning__", None)
        if returning is None or returning in _PINNED:
            continue
        try:
            _PINNED[returning] = Response[returning]  # type: ignore[index]
        except Exception:
            log.debug("Response[%r] not pinned", returning, exc_info=True)
    return len(_PINNED)
